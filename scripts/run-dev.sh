#!/usr/bin/env bash
# make run: serve mcphost.yaml with the embedded dev issuer, and print a token and
# the command that calls whoami with it from another shell. LISTEN=host:port
# (make run LISTEN=127.0.0.1:9000) serves elsewhere than server.listen.
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG=${CONFIG:-mcphost.yaml}
LISTEN_FLAG=() URL_FLAG=""
if [ -n "${LISTEN:-}" ]; then
	LISTEN_FLAG=(--listen "$LISTEN")
	URL_FLAG=" --url http://$LISTEN/mcp"
fi
TOKEN=$(./bin/mcphost token --config "$CONFIG" "${LISTEN_FLAG[@]}" --sub user_alice --email alice@example.com \
  --name "Alice Dev" --org org_demo_acme --roles admin --permissions documents:write --ttl 8h)
cat <<MSG

  A token for user_alice (role admin, org org_demo_acme), valid 8 hours:

    export MCPHOST_TOKEN=$TOKEN

  From another shell in $(pwd), call whoami with it:

    MCPHOST_TOKEN=$TOKEN ./bin/mcphost call whoami$URL_FLAG

  More: ./bin/mcphost call --list$URL_FLAG, ./bin/mcphost call get-documents$URL_FLAG,
  ./bin/mcphost token --config $CONFIG ${LISTEN_FLAG[*]} --sub bob --org org_demo_globex (a non-admin)

MSG
exec ./bin/mcphost dev --config "$CONFIG" "${LISTEN_FLAG[@]}"
