#!/usr/bin/env bash
# Installs the servers and programs the tests start on loopback (the Debian
# packages redis-server, postgresql and chromium), and nodejs and npm, when
# they are missing. As root it installs them;
# otherwise it says what to install.
# With "run" (make run) it checks only what the shipped mcphost.yaml's plugins
# need to start: python3's grpc modules and node.
set -euo pipefail
mode=${1:-test}
missing=()
# The Python SDK (sdk/python, plugins/notes-py) runs on Debian's python3 and
# these modules (PyPI is not reachable from CI).
/usr/bin/python3 -c 'import grpc, google.protobuf, cryptography' >/dev/null 2>&1 ||
	missing+=(python3 python3-grpcio python3-protobuf python3-cryptography)
# The TypeScript SDK and plugin (make build-ts) need node and npm.
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
if [ "$mode" = test ]; then
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
# The PostgreSQL server binaries (initdb, postgres) are not on PATH in Debian's
# package, and pg_config alone may come from libpq-dev without them: look where
# internal/testpostgres looks.
have_postgres() {
	local d
	for d in "$(pg_config --bindir 2>/dev/null)" /usr/lib/postgresql/*/bin "$(dirname "$(command -v postgres 2>/dev/null || echo /nonexistent/x)")"; do
		[ -x "$d/initdb" ] && [ -x "$d/postgres" ] && return 0
	done
	return 1
}
have_postgres || missing+=(postgresql)
# The dev login page is driven in a real headless browser (e2e/authflow).
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
fi
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "make $mode needs the Debian packages: ${missing[*]}" >&2
	echo "install them (sudo apt-get install -y ${missing[*]}) or run make $mode as root" >&2
	exit 1
fi
echo "installing ${missing[*]} for make $mode"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
	apt-get update -q >/dev/null
	apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}
# Tests start their own servers on free ports; the packaged service is not needed.
for svc in "${missing[@]}"; do
	(systemctl disable --now "$svc" || service "$svc" stop) >/dev/null 2>&1 || true
done
