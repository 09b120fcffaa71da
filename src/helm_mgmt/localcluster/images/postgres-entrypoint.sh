#!/bin/bash
# Entrypoint of clipper.local/postgres (PostgreSQL 17 + pgvector from Debian packages).
#
# Honours the contract of the official postgres image: POSTGRES_USER, POSTGRES_PASSWORD (or
# POSTGRES_PASSWORD_FILE), POSTGRES_DB, POSTGRES_INITDB_ARGS, POSTGRES_HOST_AUTH_METHOD, PGDATA,
# and /docker-entrypoint-initdb.d/*.sql, *.sql.gz and *.sh on first initialisation.
# It runs as the image user (uid 999) and writes only to PGDATA, /var/run/postgresql and /tmp,
# so the root filesystem may be read-only.
set -Eeuo pipefail
shopt -s nullglob

log() { printf '%s [entrypoint] %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Export VAR from VAR or from the file named by VAR_FILE (a mounted secret); both at once is an error.
file_env() {
	local var="$1" default="${2:-}"
	local file_var="${var}_FILE"
	local value="$default"
	if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then
		die "both $var and $file_var are set; set only one"
	fi
	if [ -n "${!var:-}" ]; then
		value="${!var}"
	elif [ -n "${!file_var:-}" ]; then
		[ -r "${!file_var}" ] || die "$file_var=${!file_var} is not a readable file"
		value="$(<"${!file_var}")"
	fi
	export "$var=$value"
	unset "$file_var"
}

psql_as_owner() {
	psql -v ON_ERROR_STOP=1 --no-psqlrc --no-password --username "$POSTGRES_USER" "$@"
}

# Start a server that listens on the Unix socket only, with the user's own -c arguments.
start_temp_server() {
	local options="-c listen_addresses='' -p 5432"
	if [ $# -gt 0 ]; then
		options="$(printf '%q ' "$@")$options"
	fi
	PGUSER="$POSTGRES_USER" pg_ctl -D "$PGDATA" -o "$options" -w start >&2
}

init_database() {
	if [ -z "$POSTGRES_PASSWORD" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
		die "the database in $PGDATA is not initialised and no superuser password is set:" \
			"set POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE"
	fi
	log "initialising $PGDATA (superuser $POSTGRES_USER, database $POSTGRES_DB)"
	local args=(--username="$POSTGRES_USER" --auth-local=trust --auth-host="$POSTGRES_HOST_AUTH_METHOD")
	# POSTGRES_INITDB_ARGS is a list of words, as in the official image.
	# shellcheck disable=SC2206
	args+=($POSTGRES_INITDB_ARGS)
	if [ -n "$POSTGRES_PASSWORD" ]; then
		initdb -D "$PGDATA" "${args[@]}" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") >&2
	else
		initdb -D "$PGDATA" "${args[@]}" >&2
	fi
	printf '\nlisten_addresses = '"'*'"'\n' >>"$PGDATA/postgresql.conf"
	printf '\nhost all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD" >>"$PGDATA/pg_hba.conf"

	start_temp_server "$@"
	if [ "$POSTGRES_DB" != postgres ]; then
		local exists
		exists="$(psql_as_owner --dbname postgres -v db="$POSTGRES_DB" -tA \
			<<<"SELECT 1 FROM pg_database WHERE datname = :'db'")"
		if [ -z "$exists" ]; then
			psql_as_owner --dbname postgres -v db="$POSTGRES_DB" <<<'CREATE DATABASE :"db"' >&2
		fi
	fi
	local f
	for f in /docker-entrypoint-initdb.d/*; do
		case "$f" in
			*.sh)
				if [ -x "$f" ]; then
					log "running $f"
					"$f"
				else
					log "sourcing $f"
					# shellcheck disable=SC1090
					. "$f"
				fi
				;;
			*.sql) log "running $f"; psql_as_owner --dbname "$POSTGRES_DB" -f "$f" >&2 ;;
			*.sql.gz) log "running $f"; gzip -dc "$f" | psql_as_owner --dbname "$POSTGRES_DB" >&2 ;;
			*) log "ignoring $f" ;;
		esac
	done
	pg_ctl -D "$PGDATA" -m fast -w stop >&2
	log "initialisation complete; starting PostgreSQL"
}

if [ "${1:0:1}" = '-' ] || [ $# -eq 0 ]; then
	set -- postgres "$@"
fi

if [ "$1" = postgres ]; then
	[ "$(id -u)" != 0 ] || die "run this image as the postgres user (uid 999), not as root"
	file_env POSTGRES_PASSWORD
	file_env POSTGRES_USER postgres
	file_env POSTGRES_DB "$POSTGRES_USER"
	file_env POSTGRES_INITDB_ARGS
	export POSTGRES_HOST_AUTH_METHOD="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
	export PGDATA="${PGDATA:-/var/lib/postgresql/data}"
	mkdir -p "$PGDATA"
	chmod 0700 "$PGDATA" || log "warning: cannot chmod 0700 $PGDATA (is it owned by uid $(id -u)?)"
	if [ ! -s "$PGDATA/PG_VERSION" ]; then
		init_database "${@:2}"
	fi
	unset POSTGRES_PASSWORD
fi

exec "$@"
