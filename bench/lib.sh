# Shared by bench.sh and generators.sh: the test network, starting and stopping a server in
# it, and running one load generator. Sourced, not run.
#
# The network has the shape of shared/lab/netns.sh (same interface names and addresses, so
# kea-lab.json works unchanged) in namespaces of its own, lhbench-srv and lhbench-cli, so a
# bench can run while someone uses the lab's dhcp-srv/dhcp-cli. Only the relay link is used.

SRV=lhbench-srv
CLI=lhbench-cli
LEASEHOLD=${LEASEHOLD:-$root/target/release/leasehold}
work=${work:-$(mktemp -d /tmp/leasehold-bench.XXXXXX)}
server_pid=

need() {
    for tool in "$@"; do
        command -v "$tool" >/dev/null || { echo "bench: $tool is not installed" >&2; exit 1; }
    done
    [ -x "$LEASEHOLD" ] || { echo "bench: build $LEASEHOLD first (make build)" >&2; exit 1; }
}

net_up() {
    net_down
    ip netns add "$SRV"
    ip netns add "$CLI"
    ip link add veth-srv netns "$SRV" type veth peer name veth-cli netns "$CLI"
    ip link add bcast-srv netns "$SRV" type veth peer name bcast-cli netns "$CLI"
    ip -n "$SRV" addr add 192.0.2.1/24 dev veth-srv
    ip -n "$CLI" addr add 192.0.2.2/24 dev veth-cli
    ip -n "$SRV" addr add 198.51.100.1/24 dev bcast-srv
    ip -n "$CLI" addr add 198.51.100.254/24 dev bcast-cli
    for link in "$SRV lo" "$SRV veth-srv" "$SRV bcast-srv" "$CLI lo" "$CLI veth-cli" "$CLI bcast-cli"; do
        set -- $link
        ip -n "$1" link set "$2" up
    done
}

net_down() {
    ip netns del "$SRV" 2>/dev/null || true
    ip netns del "$CLI" 2>/dev/null || true
}

max() { awk -v a="$1" -v b="$2" 'BEGIN { print (a > b) ? a : b }'; }

# start_server COMMAND...: runs it in the server namespace on a fresh lease file and waits
# until it hands out a lease (leasehold probe from an ephemeral port, released again).
start_server() {
    rm -f "$work"/leases4.csv*
    # shellcheck disable=SC2086 # the command is split into words on purpose
    ip netns exec "$SRV" env KEA_PIDFILE_DIR="$work" KEA_LOCKFILE_DIR="$work" \
        $1 >>"$work/server.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 100); do
        if ip netns exec "$CLI" "$LEASEHOLD" probe -l 192.0.2.2 --timeout 0.2 --retries 0 \
            192.0.2.1 >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.1
    done
    echo "bench: $1 did not start serving; log in $work/server.log" >&2
    exit 1
}

stop_server() {
    [ -n "$server_pid" ] || return 0
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=
}

# utime + stime of the server, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$server_pid/stat"; }

# Peak resident set of the server, kB.
peak_rss() { awk '/^VmHWM:/ { print $2 }' "/proc/$server_pid/status"; }

# load TOOL RATE SECONDS: offers RATE 4-way exchanges/s for SECONDS from the client namespace
# as relay 192.0.2.2 (binding 192.0.2.2:67) and prints
#   "achieved_rate drop_percent acks latency_ms"
# where latency is REQUEST-ACK p99 for leasehold-perf and the average for perfdhcp.
# RATE 0 means as fast as the generator can.
load() {
    local tool=$1 rate=$2 seconds=$3 out
    case $tool in
        perfdhcp)
            local rate_arg=()
            [ "$rate" -gt 0 ] && rate_arg=(-r "$rate")
            out=$(ip netns exec "$CLI" perfdhcp -4 "${rate_arg[@]}" -p "$seconds" -R 1000000 \
                -d 1 -l 192.0.2.2 192.0.2.1 2>&1 || true)
            awk '/^Rate:/ { rate = $2 }
                 /^sent packets:/ { sent += $3 }
                 /^received packets:/ { n++; if (n == 2) acks = $3 }
                 /^drops:/ { drops += $2 }
                 /^avg delay:/ { avg = $3 }
                 END { printf "%s %.3f %d %s\n", rate + 0, sent ? drops * 100 / sent : 100,
                       acks, avg + 0 }' <<<"$out"
            ;;
        leasehold-perf)
            local rate_arg=()
            [ "$rate" -gt 0 ] && rate_arg=(-r "$rate")
            out=$(ip netns exec "$CLI" "$LEASEHOLD" perf --json "${rate_arg[@]}" -p "$seconds" \
                -R 1000000 -d 1 -l 192.0.2.2 192.0.2.1 2>&1 | grep '^{' || echo '{}')
            jq -r '[.achieved_rate // 0,
                    ((.stages // {}) | [.[] | .drops] | add // 0) * 100
                      / ([(.stages // {})[] | .sent] | add // 0 | if . == 0 then 1 else . end),
                    .acks // 0,
                    .stages["REQUEST-ACK"].latency_ms.p99 // .stages["DISCOVER-OFFER"].latency_ms.p99 // 0]
                   | map(tostring) | join(" ")' <<<"$out"
            ;;
    esac
}
