#!/bin/bash
# leasehold and Kea 2.2 on the same SQL lease database server (PostgreSQL, MariaDB) on this
# machine, under the same load (`leasehold perf` in relay mode). Every run gets a fresh
# database made by `leasehold db init`, which both servers serve from. For each engine and
# server it prints the highest rate with under 1% drops (doubling, then bisecting; a fresh
# server and database each step), the server's CPU time per lease at a fixed rate, and the
# leasehold/Kea ratios.
#
# Servers run in a network namespace and reach the databases through their sockets:
# /var/run/postgresql (trust) and /run/mysqld/mysqld.sock (root). Kea's MySQL backend takes
# no socket path, so Kea gets host "localhost", which libmysqlclient maps to that socket.
#
# Needs root, ip netns, kea-dhcp4, jq, psql, mysql and the release build.
# Environment: BENCH_STEP_SECONDS (3), BENCH_FIXED_RATE (2000), BENCH_FIXED_SECONDS (5),
# BENCH_ENGINES ("postgresql mysql"), BENCH_TOOL (leasehold-perf), LEASEHOLD.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"

STEP_SECONDS=${BENCH_STEP_SECONDS:-3}
FIXED_RATE=${BENCH_FIXED_RATE:-2000}
FIXED_SECONDS=${BENCH_FIXED_SECONDS:-5}
ENGINES=${BENCH_ENGINES:-postgresql mysql}
TOOL=${BENCH_TOOL:-leasehold-perf}
KEA_LAB=${KEA_LAB:-$root/../shared/lab/kea-lab.json}
[ -f "$KEA_LAB" ] || KEA_LAB=/work/shared/lab/kea-lab.json
database=

need kea-dhcp4 jq psql mysql
net_up
trap 'stop_server; drop_database; net_down; rm -rf "$work"' EXIT

admin() {
    case $1 in
        postgresql) psql -X -q -U postgres -h /var/run/postgresql -d postgres -c "$2" ;;
        mysql) mysql -uroot -e "$2" ;;
    esac
}

drop_database() {
    [ -n "$database" ] || return 0
    local engine=${database%%:*} name=${database#*:}
    case $engine in
        postgresql) admin postgresql "DROP DATABASE IF EXISTS $name WITH (FORCE)" ;;
        mysql) admin mysql "DROP DATABASE IF EXISTS $name" ;;
    esac
    database=
}

# fresh_config ENGINE SERVER: a new database with leasehold's schema, and a configuration
# for SERVER on it in $work/dhcp4.json.
serial=0
fresh_config() {
    local engine=$1 server=$2 name host user
    drop_database
    serial=$((serial + 1))
    name="lh_${BASHPID}_$serial"
    admin "$engine" "CREATE DATABASE $name" >/dev/null
    database="$engine:$name"
    case $engine in
        postgresql) host=/var/run/postgresql user=postgres ;;
        mysql) host=/run/mysqld/mysqld.sock user=root ;;
    esac
    "$LEASEHOLD" db init --type "$engine" --name "$name" --host "$host" --user "$user" \
        >>"$work/server.log" 2>&1
    [ "$server,$engine" = kea,mysql ] && host=localhost
    jq --arg type "$engine" --arg name "$name" --arg host "$host" --arg user "$user" \
        '.Dhcp4["lease-database"] = {type: $type, name: $name, host: $host, user: $user}' \
        <(grep -v '^\s*//' "$KEA_LAB") >"$work/dhcp4.json"
}

server_command() {
    case $1 in
        kea) echo "kea-dhcp4 -c $work/dhcp4.json" ;;
        leasehold) echo "$LEASEHOLD serve -c $work/dhcp4.json" ;;
    esac
}

# search ENGINE SERVER: prints the highest achieved rate under 1% drops.
search() {
    local engine=$1 server=$2 rate=500 good=0 bad=0 best=0 steps=0
    while :; do
        fresh_config "$engine" "$server"
        start_server "$(server_command "$server")"
        read -r achieved drops _ _ < <(load "$TOOL" "$rate" "$STEP_SECONDS")
        stop_server
        steps=$((steps + 1))
        awk -v d="$drops" 'BEGIN { exit !(d < 1) }' && best=$(max "$best" "$achieved")
        if awk -v d="$drops" -v a="$achieved" -v r="$rate" 'BEGIN { exit !(d < 1 && a >= 0.9 * r) }'; then
            good=$rate
        else
            bad=$rate
        fi
        printf '  %-10s %-9s offered %6d/s achieved %8.1f/s drops %6.2f%%\n' \
            "$engine" "$server" "$rate" "$achieved" "$drops" >&2
        if [ "$bad" = 0 ]; then
            rate=$((rate * 2))
        elif [ "$good" = 0 ]; then
            [ "$rate" -le 60 ] && break
            rate=$((rate / 2))
        elif [ $((bad - good)) -le $((good / 8)) ] || [ "$steps" -ge 9 ]; then
            break
        else
            rate=$(((good + bad) / 2))
        fi
    done
    drop_database
    echo "$best"
}

# fixed ENGINE SERVER RATE: prints "acks cpu_us_per_lease" at RATE.
fixed() {
    local engine=$1 server=$2 rate=$3 before after acks
    fresh_config "$engine" "$server"
    start_server "$(server_command "$server")"
    before=$(cpu_ticks)
    read -r _ _ acks _ < <(load "$TOOL" "$rate" "$FIXED_SECONDS")
    after=$(cpu_ticks)
    stop_server
    drop_database
    awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" -v n="$acks" \
        'BEGIN { printf "%d %.1f\n", n, n ? t / hz * 1e6 / n : 0 }'
}

echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
declare -A result
for engine in $ENGINES; do
    for server in kea leasehold; do
        rate=$(search "$engine" "$server")
        # CPU per lease at a rate both can take: the lower of the fixed rate and Kea's best.
        read -r acks cpu < <(fixed "$engine" "$server" "$FIXED_RATE")
        result[$engine,$server]="$rate $acks $cpu"
    done
done

echo
echo "SQL lease database, relay mode, $TOOL, $(nproc) cores, load average now" \
    "$(cut -d' ' -f1-3 /proc/loadavg)"
echo "CPU per lease at an offered $FIXED_RATE/s for ${FIXED_SECONDS}s"
printf '%-11s %-10s %12s %10s %14s\n' engine server max_rate/s acks cpu_us/lease
for engine in $ENGINES; do
    for server in kea leasehold; do
        read -r rate acks cpu <<<"${result[$engine,$server]}"
        printf '%-11s %-10s %12.0f %10d %14.1f\n' "$engine" "$server" "$rate" "$acks" "$cpu"
    done
    read -r krate _ kcpu <<<"${result[$engine,kea]}"
    read -r lrate _ lcpu <<<"${result[$engine,leasehold]}"
    awk -v a="$lrate" -v b="$krate" -v e="$lcpu" -v f="$kcpu" -v t="$engine" \
        'function r(x, y) { return y ? x / y : 0 }
        BEGIN { printf "%-11s %-10s %11.2fx %10s %13.2fx\n", t, "ratio L/K", r(a, b), "", r(e, f) }'
done
