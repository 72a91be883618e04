#!/usr/bin/env bash
# Starts leasehold on a lease file of 1,000,000 leases and prints how long
# it takes until it answers its first DHCP exchange, and its resident
# memory then. Needs root (network namespaces).
#
#   bench/million-leases.sh [LEASES]
set -euo pipefail
count=${1:-1000000}
here=$(cd "$(dirname "$0")" && pwd)
binary=${LEASEHOLD:-$here/../target/release/leasehold}
work=$(mktemp -d /tmp/leasehold-million.XXXXXX)
ns_srv=lh-million-s ns_cli=lh-million-c

cleanup() {
    [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    ip netns del "$ns_srv" 2>/dev/null || true
    ip netns del "$ns_cli" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

ip netns add "$ns_srv"
ip netns add "$ns_cli"
ip -n "$ns_srv" link add lhm-s type veth peer name lhm-c netns "$ns_cli"
ip -n "$ns_srv" addr add 192.0.2.1/24 dev lhm-s
ip -n "$ns_cli" addr add 192.0.2.2/24 dev lhm-c
for ns in "$ns_srv" "$ns_cli"; do ip -n "$ns" link set lo up; done
ip -n "$ns_srv" link set lhm-s up
ip -n "$ns_cli" link set lhm-c up

cat >"$work/kea.json" <<JSON
{ "Dhcp4": {
    "interfaces-config": { "interfaces": [ "lhm-s" ] },
    "lease-database": { "type": "memfile", "name": "$work/leases4.csv", "lfc-interval": 0 },
    "valid-lifetime": 86400,
    "subnet4": [ { "id": 1, "subnet": "10.0.0.0/8",
                   "relay": { "ip-addresses": [ "192.0.2.2" ] },
                   "pools": [ { "pool": "10.0.0.1 - 10.255.255.254" } ] } ] } }
JSON

python3 - "$work/leases4.csv" "$count" <<'PY'
import sys, time
path, count = sys.argv[1], int(sys.argv[2])
expire = int(time.time()) + 80000
with open(path, "w") as out:
    out.write("address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context\n")
    for n in range(count):
        a = 10 << 24 | (n + 1)
        ip = f"{a >> 24}.{a >> 16 & 255}.{a >> 8 & 255}.{a & 255}"
        mac = ":".join(f"{b:02x}" for b in (2, 0, n >> 24 & 255, n >> 16 & 255, n >> 8 & 255, n & 255))
        out.write(f"{ip},{mac},01:{mac},86400,{expire},1,0,0,host-{n},0,\n")
PY
echo "lease file: $count leases, $(du -h "$work/leases4.csv" | cut -f1)"

start=$(date +%s%N)
ip netns exec "$ns_srv" "$binary" serve -c "$work/kea.json" >"$work/server.log" 2>&1 &
pid=$!
until ip netns exec "$ns_cli" "$binary" probe --timeout 1 --retries 0 -l 192.0.2.2 192.0.2.1 \
        >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || { cat "$work/server.log"; exit 1; }
    sleep 0.05
done
ready=$(date +%s%N)
rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
grep -E "starting|loaded lease file|leases loaded|bound" "$work/server.log" | sed 's/^/  /'
printf 'leases=%d serving_after=%dms rss=%dMB peak_rss=%dMB load=%s\n' "$count" \
    $(((ready - start) / 1000000)) $((rss / 1024)) $((hwm / 1024)) "$(cut -d' ' -f1 /proc/loadavg)"
