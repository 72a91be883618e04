#!/usr/bin/env bash
# Installs what the end-to-end tests and the benchmarks run beside
# leasehold: from Debian's packages, Kea 2.2 as the baseline, perfdhcp, real
# DHCP clients, nmap, jq for the benchmark scripts, and curl and openssl for
# the TLS control socket test; from PyPI, moto (the
# S3 server of the s3:// configuration tests).
# Then makes sure PostgreSQL and MariaDB run (scripts/databases.sh).
# Idempotent; needs root.
set -euo pipefail

packages=(kea-dhcp4-server kea-admin isc-dhcp-client udhcpc dhcpcd-base nmap iproute2 jq curl openssl)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" \
        || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Debian starts the Kea services it installs; the tests run their own Kea
# in network namespaces and need port 67 free of strays.
for service in kea-dhcp4-server kea-ctrl-agent kea-dhcp6-server kea-dhcp-ddns-server; do
    systemctl stop "$service" 2>/dev/null || true
done
pkill -x kea-dhcp4 2>/dev/null || true

# moto's S3 server, the object store the s3:// configuration tests fetch from.
if ! python3 -c 'import moto.server' 2>/dev/null; then
    echo "installing: moto[server]"
    python3 -m pip install --quiet 'moto[server]==5.*'
fi

"$(dirname "$0")/databases.sh"
