#!/usr/bin/env bash
# Issue 6 benchmark (BENCHMARKS.md, "Tickets"): imports N attendees from CSV into one event and
# generates their tickets through the job, durable, against a release server on loopback.
# Prints the CLI's summaries, the server's RSS before and after, and `allot verify`.
#
#   cargo build --release -p allot && scripts/bench-tickets.sh [N] [CHUNK] [BATCH]
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-100000}"
CHUNK="${2:-1000}"
BATCH="${3:-50000}"
BIN=target/release/allot
PORT="${PORT:-17979}"
URL="http://127.0.0.1:$PORT"
TOKEN="bench-admin-token-$$-$(date +%s)"
WORK="$(mktemp -d)"
ALLOT_LOG=warn ALLOT_ADMIN_TOKEN="$TOKEN" "$BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$WORK/data" &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do curl -fsS "$URL/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
rss() { awk '/VmRSS/ {print $2 " kB"}' "/proc/$SERVER/status"; }

KEY=$(curl -fsS -X POST "$URL/v1/tenants" -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
  -d '{"name":"bench"}' | sed -E 's/.*"api_key":"([^"]+)".*/\1/')
EVENT=$(curl -fsS -X POST "$URL/v1/pools" -H "Authorization: Bearer $KEY" -H 'content-type: application/json' \
  -d "{\"name\":\"Wisuda\",\"capacity\":$N,\"unit\":\"seats\"}" | sed -E 's/^\{"id":"([^"]+)".*/\1/')

{ echo "external_id,name,email"; seq 1 "$N" | awk '{printf "S%07d,Student %d,s%d@example.org\n", $1, $1, $1}'; } > "$WORK/attendees.csv"
echo "== RSS at start: $(rss)"
echo "== import $N attendees (batch $BATCH)"
ALLOT_URL="$URL" ALLOT_API_KEY="$KEY" "$BIN" attendees import --event "$EVENT" --batch "$BATCH" "$WORK/attendees.csv"
echo "== RSS after import: $(rss)"
echo "== generate $N tickets (chunk $CHUNK)"
ALLOT_URL="$URL" ALLOT_API_KEY="$KEY" "$BIN" tickets generate --event "$EVENT" --chunk "$CHUNK"
echo "== RSS after generation: $(rss)"
kill -TERM "$SERVER"; wait "$SERVER" || true
"$BIN" verify --data-dir "$WORK/data"
