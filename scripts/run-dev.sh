#!/usr/bin/env bash
# make run: serve mcphost.yaml with the embedded dev issuer, and print a token and
# the command that calls whoami with it from another shell.
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG=${CONFIG:-mcphost.yaml}
TOKEN=$(./bin/mcphost token --config "$CONFIG" --sub user_alice --email alice@example.com \
  --name "Alice Dev" --org org_demo_acme --roles admin --permissions documents:write --ttl 8h)
cat <<MSG

  A token for user_alice (role admin, org org_demo_acme), valid 8 hours:

    export MCPHOST_TOKEN=$TOKEN

  From another shell in $(pwd), call whoami with it:

    MCPHOST_TOKEN=$TOKEN ./bin/mcphost call whoami

  More: ./bin/mcphost call --list, ./bin/mcphost call get-documents,
  ./bin/mcphost token --config $CONFIG --sub bob --org org_demo_globex (a non-admin)

MSG
exec ./bin/mcphost dev --config "$CONFIG"
