#!/bin/sh
# Entrypoint of clipper.local/redis (Redis 7 from Debian bookworm), after the official redis image:
# a first argument that is an option or a *.conf file means "redis-server with these arguments",
# anything else is run as given. The image runs as uid 999 with /data as its working directory.
# Unlike the official image, protected mode is left on when no config file is given: a chart
# passes a config file with requirepass.
set -eu

case "${1:-}" in
	-* | *.conf) set -- redis-server "$@" ;;
esac

if [ "${1:-}" = redis-server ] && [ "$(id -u)" = 0 ]; then
	echo "run this image as the redis user (uid 999), not as root" >&2
	exit 1
fi

exec "$@"
