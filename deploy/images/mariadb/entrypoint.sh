#!/bin/sh
# First start of an empty data directory, as the official mysql image's entrypoint does
# it: install the system tables, set the root password (root@localhost and
# root@MYSQL_ROOT_HOST), create MYSQL_DATABASE and MYSQL_USER with MYSQL_PASSWORD, run
# /docker-entrypoint-initdb.d/*.sh|*.sql|*.sql.gz, then exec the server. Until then the
# server listens on no TCP port, so a healthcheck over TCP passes only once it is ready.
set -eu

die() { echo "docker-entrypoint: error: $*" >&2; exit 1; }

# VAR_FILE names a file holding VAR (Docker secrets); setting both is an error.
for var in MYSQL_ROOT_PASSWORD MYSQL_ROOT_HOST MYSQL_DATABASE MYSQL_USER MYSQL_PASSWORD; do
  file_var="${var}_FILE"
  eval "value=\${$var:-} file=\${$file_var:-}"
  if [ -n "$file" ]; then
    [ -z "$value" ] || die "both $var and $file_var are set (they are exclusive)"
    [ -r "$file" ] || die "$file_var names $file, which cannot be read"
    eval "$var=\$(cat \"\$file\")"
    export "${var?}"
  fi
done

case "$1" in -*) set -- mariadbd "$@" ;; esac

datadir=/var/lib/mysql
if { [ "$1" = mariadbd ] || [ "$1" = mysqld ]; } && [ ! -d "$datadir/mysql" ]; then
  if [ -z "${MYSQL_ROOT_PASSWORD:-}" ] && [ -z "${MYSQL_ALLOW_EMPTY_PASSWORD:-}" ] \
     && [ -z "${MYSQL_RANDOM_ROOT_PASSWORD:-}" ]; then
    die "database is uninitialized and password option is not specified" \
        "(set one of MYSQL_ROOT_PASSWORD, MYSQL_ALLOW_EMPTY_PASSWORD, MYSQL_RANDOM_ROOT_PASSWORD)"
  fi
  [ "${MYSQL_USER:-}" != root ] || die "MYSQL_USER=root: root is created by MYSQL_ROOT_PASSWORD"
  if [ -n "${MYSQL_USER:-}" ] && [ -z "${MYSQL_PASSWORD:-}" ]; then
    die "MYSQL_USER is set but MYSQL_PASSWORD is not"
  fi
  if [ -n "${MYSQL_RANDOM_ROOT_PASSWORD:-}" ]; then
    MYSQL_ROOT_PASSWORD="$(tr -dc 'A-Za-z0-9' </dev/urandom | head -c 32)"
    echo "docker-entrypoint: GENERATED ROOT PASSWORD: $MYSQL_ROOT_PASSWORD"
  fi

  echo "docker-entrypoint: initializing $datadir"
  mariadb-install-db --datadir="$datadir" --skip-test-db --auth-root-authentication-method=normal \
    --rpm >/dev/null
  socket=/run/mysqld/init.sock
  "$@" --skip-networking --socket="$socket" &
  pid=$!
  for _ in $(seq 1 60); do
    mariadb-admin --socket="$socket" -uroot ping >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || die "the server exited while initializing (see above)"
    sleep 1
  done

  sql_string() { printf "'%s'" "$(printf '%s' "$1" | sed -e "s/\\\\/\\\\\\\\/g" -e "s/'/''/g")"; }
  # shellcheck disable=SC2016  # the backquotes are MySQL's identifier quotes, not expansions
  sql_name() { printf '`%s`' "$(printf '%s' "$1" | sed 's/`/``/g')"; }
  root_password="$(sql_string "${MYSQL_ROOT_PASSWORD:-}")"
  root_host="$(sql_string "${MYSQL_ROOT_HOST:-%}")"
  # printf, not echo: dash's echo would turn a password's \\ into \.
  sql() { printf '%s\n' "$*"; }
  {
    sql "SET @@SESSION.SQL_LOG_BIN=0;"
    sql "DELETE FROM mysql.global_priv WHERE User='' OR (User='root' AND Host NOT IN ('localhost'));"
    sql "ALTER USER 'root'@'localhost' IDENTIFIED BY $root_password;"
    if [ "${MYSQL_ROOT_HOST:-%}" != localhost ]; then
      sql "CREATE USER 'root'@$root_host IDENTIFIED BY $root_password;"
      sql "GRANT ALL ON *.* TO 'root'@$root_host WITH GRANT OPTION;"
    fi
    if [ -n "${MYSQL_DATABASE:-}" ]; then
      sql "CREATE DATABASE IF NOT EXISTS $(sql_name "$MYSQL_DATABASE");"
    fi
    if [ -n "${MYSQL_USER:-}" ]; then
      sql "CREATE USER $(sql_string "$MYSQL_USER")@'%' IDENTIFIED BY $(sql_string "$MYSQL_PASSWORD");"
      if [ -n "${MYSQL_DATABASE:-}" ]; then
        sql "GRANT ALL ON $(sql_name "$MYSQL_DATABASE").* TO $(sql_string "$MYSQL_USER")@'%';"
      fi
    fi
    sql "FLUSH PRIVILEGES;"
  } | mariadb --socket="$socket" -uroot

  client() { MYSQL_PWD="${MYSQL_ROOT_PASSWORD:-}" mariadb --socket="$socket" -uroot "$@"; }
  for script in /docker-entrypoint-initdb.d/*; do
    case "$script" in
      *.sh)
        echo "docker-entrypoint: running $script"
        # shellcheck source=/dev/null  # the image user's own scripts
        . "$script" ;;
      *.sql) echo "docker-entrypoint: running $script"; client ${MYSQL_DATABASE:+"$MYSQL_DATABASE"} <"$script" ;;
      *.sql.gz) echo "docker-entrypoint: running $script"; gunzip -c "$script" | client ${MYSQL_DATABASE:+"$MYSQL_DATABASE"} ;;
      */\*) ;;
      *) echo "docker-entrypoint: ignoring $script" ;;
    esac
  done

  MYSQL_PWD="${MYSQL_ROOT_PASSWORD:-}" mariadb-admin --socket="$socket" -uroot shutdown
  wait "$pid" || true
  echo "docker-entrypoint: initialized; starting the server"
fi

exec "$@"
