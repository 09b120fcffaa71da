#!/bin/sh
# Entrypoint of the Clipper frontend image (images/frontend/Containerfile): writes the listen
# directives for NGINX_PORT (default 8080) under /tmp/nginx, where nginx also keeps its pid file and
# temporary files, then runs the command.
# Nothing else is written, so the root filesystem may be read-only and the user need not be root.
set -eu

port="${NGINX_PORT:-8080}"
case "$port" in
	'' | *[!0-9]*)
		echo "NGINX_PORT must be a port number, got '$port'" >&2
		exit 1
		;;
esac

mkdir -p /tmp/nginx
{
	echo "listen $port;"
	if [ -e /proc/net/if_inet6 ]; then
		echo "listen [::]:$port;"
	fi
} >/tmp/nginx/listen.conf

exec "$@"
