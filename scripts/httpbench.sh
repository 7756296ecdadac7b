#!/usr/bin/env bash
# One HTTP benchmark run against a fresh server: scripts/httpbench.sh SERVER_BINARY SCENARIO LABEL
# Starts SERVER_BINARY on 127.0.0.1:7979 with an empty data directory, drives it for 8 s with
# 256 connections using this checkout's release `allot bench`, prints the summary and the
# server's RSS at the end, and stops the server. Build first: cargo build --release -p allot
set -u
BIN=$1; SCENARIO=$2; LABEL=$3
CLIENT="$(dirname "$0")/../target/release/allot"
DIR=$(mktemp -d)
ALLOT_LOG=warn ALLOT_ADMIN_TOKEN=admin-token-1234567890 "$BIN" serve --listen 127.0.0.1:7979 \
  --data-dir "$DIR/d" > "$DIR/log" 2>&1 &
SERVER=$!
for _ in $(seq 1 100); do curl -fsS http://127.0.0.1:7979/readyz >/dev/null 2>&1 && break; sleep 0.1; done
OUT=$("$CLIENT" bench --url http://127.0.0.1:7979 --admin-token admin-token-1234567890 \
  --scenario "$SCENARIO" --concurrency 256 --duration 8 2>&1)
RSS=$(grep VmRSS "/proc/$SERVER/status" | awk '{print $2}')
kill -TERM "$SERVER"; wait "$SERVER" 2>/dev/null
echo "== $LABEL $SCENARIO rss_kib=$RSS"
echo "$OUT" | grep -vE "^ +[0-9.]+ s " | tail -9
rm -rf "$DIR"
