#!/usr/bin/env bash
# The Connect page's bytes and time to first screen (benches/connect/run.py), against a fresh
# local server (release build). Needs Chromium, ChromeDriver and selenium: tests/run.sh installs
# them (target/tools/browser).   benches/connect/run.sh [-n 15]
set -euo pipefail
cd "$(dirname "$0")/../.."
TOOLS="${COVERDESK_TOOLS:-$PWD/target/tools}"
cargo build --release --locked -q -p coverdesk-cli
DATA=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
COVERDESK_DATA_DIR="$DATA" target/release/coverdesk seed >/dev/null
COVERDESK_DATA_DIR="$DATA" RUST_LOG=warn target/release/coverdesk serve --port "$PORT" >"$DATA/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
  sleep 0.1
done
"$TOOLS/browser/bin/python" benches/connect/run.py --base "http://127.0.0.1:$PORT" "$@"
