#!/usr/bin/env bash
# Makes sure the SQL servers the tests use are installed and running: PostgreSQL on its unix
# socket and 127.0.0.1:5432, and MariaDB on /run/mysqld/mysqld.sock and 127.0.0.1:3306, both
# letting local root in without a password (PostgreSQL as its `postgres` role).
#
# A server that is already running is left exactly as it is. One that is installed but
# stopped is started. One that is missing is installed from Debian's packages, and only
# then is its local authentication opened up (trust for local connections on PostgreSQL;
# Debian's MariaDB already lets root in over the socket).
# Idempotent; needs root.
set -euo pipefail

wait_until() {
    local what=$1
    shift
    for _ in $(seq 60); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.5
    done
    echo "databases: $what did not start" >&2
    exit 1
}

install() {
    echo "installing: $*"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# PostgreSQL
fresh_postgres=false
if ! command -v pg_ctlcluster >/dev/null; then
    install postgresql
    fresh_postgres=true
fi
version=$(ls /etc/postgresql | sort -V | tail -n 1)
if $fresh_postgres; then
    hba=/etc/postgresql/$version/main/pg_hba.conf
    sed -i -E 's/^(local|host)(\s+all\s+all\s+.*\s)(peer|md5|scram-sha-256)$/\1\2trust/' "$hba"
fi
if ! pg_isready -q -h /var/run/postgresql; then
    echo "starting PostgreSQL $version"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start
elif $fresh_postgres; then
    pg_ctlcluster --skip-systemctl-redirect "$version" main reload
fi
wait_until PostgreSQL pg_isready -q -h /var/run/postgresql

# MariaDB
if ! command -v mariadbd >/dev/null; then
    install mariadb-server
fi
if ! mysqladmin --user=root ping >/dev/null 2>&1; then
    echo "starting MariaDB"
    mkdir -p /run/mysqld
    chown mysql:mysql /run/mysqld 2>/dev/null || true
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
fi
wait_until MariaDB mysqladmin --user=root ping
