#!/usr/bin/env bash
# Schemathesis 4 over every route of the local server, as issue 17 asks: coverage, fuzzing and
# stateful phases, every check, with the local team's credentials and a real pull token, so the
# servicing and /teams/{teamId} routes are exercised, not only their 401s. The relaxations it
# allows, each with its reason, are in tests/schemathesis.toml. Not part of the test command (it
# runs for minutes); the README gives the command and the counts of the last run.
#
#   tests/schemathesis.sh                 # three groups, 300 s each
#   MAX_TIME=60 tests/schemathesis.sh     # shorter
set -euo pipefail
cd "$(dirname "$0")/.."
MAX_TIME="${MAX_TIME:-300}"
PORT=3999 # tests/schemathesis.toml names it
TOOLS="${COVERDESK_TOOLS:-$PWD/target/tools}"
if [ ! -x "$TOOLS/schemathesis/bin/st" ]; then
  python3 -m venv "$TOOLS/schemathesis"
  "$TOOLS/schemathesis/bin/pip" install --quiet --disable-pip-version-check schemathesis==4.32.5
fi
cargo build --locked -q -p coverdesk-cli
DATA=$(mktemp -d)
export COVERDESK_DATA_DIR="$DATA"
target/debug/coverdesk seed
target/debug/coverdesk serve --port "$PORT" >"$DATA/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
  sleep 0.1
done
PULL=$(curl -s -X POST "http://127.0.0.1:$PORT/widget/pull/consentAndConnect" -H 'content-type: application/json' -d '{
  "device_identifier": "schemathesis", "terms_version": 1, "consent_language": "I agree.", "public_alias": "local",
  "insurerName": "sandbox", "insurerUsername": "user_good", "insurerPassword": "pass_good",
  "servicing_actions": [{"type": "UPDATE_CONTACT_INFO", "payload": {"email": "new@example.com"}}]}')
PULL_ID=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["pull_id"])' <<<"$PULL")
PULL_JWT=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["pull_jwt"])' <<<"$PULL")
export PULL_ID PULL_JWT
status=0
for group in '^/account/' '^/import/' '^/(carriers|widget|pull|teams|c/)'; do
  echo "== schemathesis $group"
  "$TOOLS/schemathesis/bin/st" --config-file tests/schemathesis.toml run shared/openapi.json \
    --url "http://127.0.0.1:$PORT" --include-path-regex "$group" --max-time "$MAX_TIME" --no-color || status=1
done
exit $status
