#!/usr/bin/env bash
# Checks the OpenAPI document against a live server with tools nobody here wrote:
# openapi-spec-validator on the served document and, with --schemathesis, Schemathesis with all
# its checks and phases, authenticated with a tenant admin key made for the run.
#
#   cargo build -p allot && scripts/check-contract.sh [--schemathesis]
#
# The tools are pinned and installed in a virtualenv (CONTRACT_VENV, default
# target/contract-venv), reused between runs. EXAMPLES sets Schemathesis' examples per operation.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${BIN:-target/debug/allot}"
VENV="${CONTRACT_VENV:-target/contract-venv}"
PORT="${PORT:-17880}"
URL="http://127.0.0.1:$PORT"
EXAMPLES="${EXAMPLES:-10}"
RUN_SCHEMATHESIS=false
[ "${1:-}" = "--schemathesis" ] && RUN_SCHEMATHESIS=true

if [ ! -x "$VENV/bin/pip" ]; then
  python3 -m venv "$VENV" 2>/dev/null || {
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    rm -rf "$VENV"
    python3 -m venv "$VENV"
  }
fi
"$VENV/bin/pip" install -q --disable-pip-version-check \
  "openapi-spec-validator==0.9.0" "schemathesis==4.32.5"

WORK="$(mktemp -d)"
TOKEN="contract-admin-token-$(date +%s)-$$"
ALLOT_ADMIN_TOKEN="$TOKEN" ALLOT_LOG=warn "$BIN" serve --listen "127.0.0.1:$PORT" \
  --data-dir "$WORK/data" > "$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do
  if curl -fsS "$URL/readyz" >/dev/null 2>&1; then break; fi
  sleep 0.1
done

echo "-- openapi-spec-validator"
curl -fsS "$URL/openapi.json" > "$WORK/openapi.json"
"$VENV/bin/openapi-spec-validator" "$WORK/openapi.json"

if $RUN_SCHEMATHESIS; then
  echo "-- schemathesis (all checks, all phases, $EXAMPLES examples per operation)"
  KEY="$(curl -fsS -X POST "$URL/v1/tenants" -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/json' -d '{"name": "Contract"}' |
    "$VENV/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["api_key"])')"
  # From the scratch directory: Schemathesis keeps a cache of what it found in its working one.
  CONFIG="$PWD/scripts/schemathesis.toml"
  VENV_ABS="$(cd "$VENV" && pwd)"
  (cd "$WORK" && "$VENV_ABS/bin/st" --config-file "$CONFIG" run "$URL/openapi.json" --url "$URL" \
    -H "Authorization: Bearer $KEY" --checks all --max-examples "$EXAMPLES" --seed 1 \
    --generation-database none --no-color)
fi
