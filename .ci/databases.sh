#!/usr/bin/env bash
# Real MariaDB and PostgreSQL for the history tests (storage/tests/history.rs).
#
# Installs them with apt-get if missing, starts them on 127.0.0.1 only (no systemd here: each
# server is started with its own command), creates a database and a password user, and prints
#   export FOREST_TEST_MYSQL_URL=...
#   export FOREST_TEST_POSTGRES_URL=...
# on stdout, so `.ci/run` can `eval "$(.ci/databases.sh)"`. Everything else goes to stderr.
# Safe to run twice. A database that cannot be installed or started prints no line, and the
# tests for it say SKIPPED instead of failing the build.
set -u

DB=forest_test
USER_NAME=forest
PASSWORD=forest_test_pw
MYSQL_PORT=3306
MYSQL_SOCKET=/run/mysqld/mysqld.sock

log() { echo "databases.sh: $*" >&2; }

apt_install() {
    local missing=()
    for cmd_pkg in "$@"; do
        local cmd=${cmd_pkg%%:*} pkg=${cmd_pkg##*:}
        command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if [ -z "${APT_UPDATED:-}" ]; then
        apt-get update -qq >&2 || return 1
        APT_UPDATED=1
    fi
    apt-get install -y -qq "${missing[@]}" >&2
}

mysql_up() {
    apt_install mariadbd:mariadb-server || { log "mariadb-server not installable"; return 1; }
    if ! mariadb-admin --socket="$MYSQL_SOCKET" ping >/dev/null 2>&1; then
        mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
        if [ ! -d /var/lib/mysql/mysql ]; then
            mariadb-install-db --user=mysql --datadir=/var/lib/mysql >&2 || return 1
        fi
        log "starting mariadbd on 127.0.0.1:$MYSQL_PORT"
        setsid nohup mariadbd --user=mysql --datadir=/var/lib/mysql --bind-address=127.0.0.1 \
            --port="$MYSQL_PORT" --socket="$MYSQL_SOCKET" >/var/log/forest-mariadbd.log 2>&1 </dev/null &
        for _ in $(seq 1 60); do
            mariadb-admin --socket="$MYSQL_SOCKET" ping >/dev/null 2>&1 && break
            sleep 0.5
        done
    fi
    mariadb --socket="$MYSQL_SOCKET" -u root >&2 <<SQL || return 1
CREATE DATABASE IF NOT EXISTS $DB;
CREATE USER IF NOT EXISTS '$USER_NAME'@'127.0.0.1' IDENTIFIED BY '$PASSWORD';
CREATE USER IF NOT EXISTS '$USER_NAME'@'localhost' IDENTIFIED BY '$PASSWORD';
GRANT ALL PRIVILEGES ON $DB.* TO '$USER_NAME'@'127.0.0.1';
GRANT ALL PRIVILEGES ON $DB.* TO '$USER_NAME'@'localhost';
SQL
    echo "export FOREST_TEST_MYSQL_URL=mysql://$USER_NAME:$PASSWORD@127.0.0.1:$MYSQL_PORT/$DB"
}

postgres_up() {
    apt_install pg_ctlcluster:postgresql || { log "postgresql not installable"; return 1; }
    local version cluster port
    read -r version cluster port _ < <(pg_lsclusters -h | head -n 1)
    [ -n "${version:-}" ] || { log "no PostgreSQL cluster"; return 1; }
    # Debian's postgresql.conf reads conf.d/; a file of ours there survives package upgrades.
    local conf_dir=/etc/postgresql/$version/$cluster/conf.d
    mkdir -p "$conf_dir" && echo "listen_addresses = '127.0.0.1'" >"$conf_dir/forest-test.conf" || return 1
    if ! pg_lsclusters -h | awk -v v="$version" -v c="$cluster" '$1==v && $2==c {print $4}' | grep -q online; then
        log "starting PostgreSQL $version/$cluster on 127.0.0.1:$port"
        pg_ctlcluster "$version" "$cluster" start >&2 || return 1
    fi
    local psql=(runuser -u postgres -- psql -v ON_ERROR_STOP=1 -q -p "$port")
    "${psql[@]}" >&2 <<SQL || return 1
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$USER_NAME') THEN
    CREATE ROLE $USER_NAME LOGIN PASSWORD '$PASSWORD';
  END IF;
END \$\$;
SQL
    if ! "${psql[@]}" -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1; then
        "${psql[@]}" -c "CREATE DATABASE $DB OWNER $USER_NAME" >&2 || return 1
    fi
    echo "export FOREST_TEST_POSTGRES_URL=postgres://$USER_NAME:$PASSWORD@127.0.0.1:$port/$DB"
}

mysql_up || log "MariaDB unavailable: the MySQL history tests will be skipped"
postgres_up || log "PostgreSQL unavailable: the PostgreSQL history tests will be skipped"
exit 0
