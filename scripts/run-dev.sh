#!/usr/bin/env bash
# make run: serve mcphost.yaml with the embedded dev issuer and show how to call it.
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG=${CONFIG:-mcphost.yaml}
exec ./bin/mcphost --config "$CONFIG"
