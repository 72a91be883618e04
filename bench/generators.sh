#!/bin/bash
# How fast can each load generator drive a server that is never the bottleneck? Runs the
# dummy responder of leasehold-perf (answers every query at once, keeps no state) in the
# server namespace and lets perfdhcp and `leasehold perf` go as fast as they can, then at
# rising fixed rates, and prints the highest rate each achieved with under 1% drops.
#
#   generators.sh [--reuse-network]
#
# Needs root, ip netns, perfdhcp, jq and the release builds of leasehold and the responder
# (make bench builds both).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
RESPONDER=${RESPONDER:-$(dirname "$LEASEHOLD")/examples/responder}
SECONDS_PER_RUN=${BENCH_STEP_SECONDS:-2}

need perfdhcp jq
[ -x "$RESPONDER" ] || { echo "bench: build $RESPONDER first" >&2; exit 1; }
[ "${1:-}" = --reuse-network ] || net_up
trap 'stop_server; net_down; rm -rf "$work"' EXIT

start_server "$RESPONDER 192.0.2.1:67"
echo "load generators against the dummy responder ($(nproc) cores, load average" \
    "$(cut -d' ' -f1-3 /proc/loadavg)):"
for tool in perfdhcp leasehold-perf; do
    best=0
    read -r achieved drops _ _ < <(load "$tool" 0 "$SECONDS_PER_RUN")
    printf '  %-15s unpaced      achieved %9.1f/s drops %6.2f%%\n' "$tool" "$achieved" "$drops"
    awk -v d="$drops" 'BEGIN { exit !(d < 1) }' && best=$achieved
    for rate in 1000 2000 5000 10000 20000 40000 80000 160000; do
        read -r achieved drops _ _ < <(load "$tool" "$rate" "$SECONDS_PER_RUN")
        printf '  %-15s offered %6d achieved %9.1f/s drops %6.2f%%\n' "$tool" "$rate" \
            "$achieved" "$drops"
        awk -v d="$drops" 'BEGIN { exit !(d < 1) }' && best=$(max "$best" "$achieved")
        # Stop once the generator drops or cannot offer the rate any more.
        awk -v d="$drops" -v a="$achieved" -v r="$rate" 'BEGIN { exit !(d < 1 && a >= 0.9 * r) }' \
            || break
    done
    printf '%-15s max 4-way exchanges/s with under 1%% drops: %.0f\n' "$tool" "$best"
done
