#!/usr/bin/env bash
# The cold-start bench (issue 10): builds the reference hellos and some functions in release and
# times each the way Lambda sees it (coldstart.py: a Runtime API on loopback; process start to
# first poll = init, and to the first answer), all in one run so the machine's noise hits all
# alike; prints medians, sizes and each one's ratio to the first (the bare runtime).
#   benches/coldstart/run.sh [-n 15]
#   BEFORE=/path/to/other/target benches/coldstart/run.sh -n 15   # an earlier build beside this one
#   benches/coldstart/run.sh --quick     # debug builds, one run each: its checks (every binary
#                                        # answers its event without an error), not its figures
# Needs DynamoDB Local: AWS_ENDPOINT_URL_DYNAMODB, or the one tests/run.sh installed under
# target/tools (started here on a free port). The table is created and seeded with the examples.
# The import function's event imports for real: the sample's transaction, a new id each run, with
# the two documents California asks for, served here, fetched by the function and stored in an
# S3-API server (AWS_ENDPOINT_URL_S3, or moto from target/tools on a free port). Every request
# the binaries make passes a timing proxy: each first answer is split into the time in the
# route's own requests and the rest (coldstart.py --proxy).
set -euo pipefail
cd "$(dirname "$0")/../.."
T="${CARGO_TARGET_DIR:-target}"
N="${1:-15}"; [ "$N" = "-n" ] && N="${2:-15}"
PROFILE=release; BUILD=(--release)
if [ "$N" = "--quick" ]; then N=1; PROFILE=debug; BUILD=(); fi
# Each function gets its own sample event (events/<name>.json) against the seeded table.
FUNCTIONS=(carriers-list accounts-get tax-rules-get import-transactions widget-consent-and-connect)
# hello-dynamo-warm: hello-dynamo plus the functions' warm-up read during init (its cost is the
# difference between the two; a function that keeps data is compared with it).
# Each function is also compared with the hello that builds the same clients and nothing else
# (carriers-list: lambda_http alone), and, for those that make the warm-up read, without its cost.
# hello-import-requests: hello-dynamo-s3 with the warm-up read that makes the import's requests
# for the sample event (one transaction, two documents) and nothing else: what the route's
# requests cost a client, its side of each request included.
HELLOS=(hello-runtime hello-http hello-dynamo hello-dynamo-warm hello-dynamo-s3 hello-import-requests)
PAIRS=(carriers-list=hello-http accounts-get=hello-dynamo+warm tax-rules-get=hello-dynamo+warm
  import-transactions=hello-dynamo-s3+warm widget-consent-and-connect=hello-dynamo+warm)
args=(); for p in "${HELLOS[@]}" "${FUNCTIONS[@]}"; do args+=(-p "$p"); done
cargo build "${BUILD[@]}" --locked "${args[@]}"
. benches/coldstart/seeded-table.sh
PIDS=("${DDB_PID:-}")
WORK=$(mktemp -d)
trap 'kill ${PIDS[*]} 2>/dev/null || true; rm -rf "$WORK"' EXIT
if [ -z "${AWS_ENDPOINT_URL_S3:-}" ]; then
  S3_PORT=$(free_port)
  "$TOOLS/venv/bin/moto_server" -H 127.0.0.1 -p "$S3_PORT" >/dev/null 2>&1 &
  PIDS+=($!)
  wait_port "$S3_PORT"
  export AWS_ENDPOINT_URL_S3="http://127.0.0.1:$S3_PORT"
fi
# The bucket (moto takes an unsigned PUT; one that exists already answers 409, which is fine).
python3 - "$AWS_ENDPOINT_URL_S3/$COVERDESK_BUCKET" <<'PY'
import sys, urllib.error, urllib.request as u
try:
    u.urlopen(u.Request(sys.argv[1], method="PUT"))
except urllib.error.HTTPError as e:
    if e.code != 409:
        raise
PY
mkdir "$WORK/docs"
for d in d1 polic; do printf '%%PDF-1.4 %s %s\n%%%%EOF\n' "$d" "$(head -c 2000 /dev/zero | tr '\0' x)" >"$WORK/docs/$d.pdf"; done
DOCS_PORT=$(free_port)
python3 -m http.server -b 127.0.0.1 -d "$WORK/docs" "$DOCS_PORT" >/dev/null 2>&1 &
PIDS+=($!)
wait_port "$DOCS_PORT"
python3 - "$DOCS_PORT" >"$WORK/import-transactions.json" <<'PY'
import json, sys
event = json.load(open("events/import-transactions.json"))
[txn] = json.loads(event["body"])
txn["id"] = "cold-__RUN__"
txn["transaction_documents"] = [{"code": c, "url": f"http://__DOCS__/{f}.pdf"}
                                for c, f in (("D1DISC", "d1"), ("POLIC", "polic"))]
event["body"] = json.dumps([txn])
json.dump(event, sys.stdout)
PY
env_args+=(--env "AWS_ENDPOINT_URL_S3=$AWS_ENDPOINT_URL_S3" --env COVERDESK_ALLOW_PRIVATE_URLS=true)
# Every binary is run from a copy in one folder (a copy just written runs from the page cache as
# every other does: an earlier build's copy would otherwise start faster than this build's).
bins=(); for p in "${HELLOS[@]}"; do
  cp "$T/$PROFILE/$p" "$WORK/$p"
  if [ "$p" = hello-import-requests ]; then bins+=("$WORK/$p@$WORK/import-transactions.json"); else bins+=("$WORK/$p"); fi
done
for p in "${FUNCTIONS[@]}"; do
  event="events/$p.json"; [ "$p" = import-transactions ] && event="$WORK/import-transactions.json"
  cp "$T/$PROFILE/$p" "$WORK/$p"
  bins+=("$WORK/$p@$event")
done
hellos=(); for p in "${PAIRS[@]}"; do hellos+=(--hello "$p"); done
# BEFORE=<another target directory> (an earlier commit's build): its binary of each function runs
# in the same run as before-<function>, beside the same hello, for a before/after of one run.
if [ -n "${BEFORE:-}" ]; then
  for p in "${FUNCTIONS[@]}"; do
    [ -x "$BEFORE/$PROFILE/$p" ] || continue
    cp "$BEFORE/$PROFILE/$p" "$WORK/before-$p"
    event="events/$p.json"; [ "$p" = import-transactions ] && event="$WORK/import-transactions.json"
    bins+=("$WORK/before-$p@$event")
    for pair in "${PAIRS[@]}"; do [ "${pair%%=*}" = "$p" ] && hellos+=(--hello "before-$pair"); done
  done
fi
# Every request to DynamoDB Local, the S3-API server and the document server passes a timing proxy
# (the route's own requests, told apart from the rest of a first answer).
proxies=(--proxy "AWS_ENDPOINT_URL_DYNAMODB=$AWS_ENDPOINT_URL_DYNAMODB" --proxy "AWS_ENDPOINT_URL_S3=$AWS_ENDPOINT_URL_S3"
  --proxy "DOCS=http://127.0.0.1:$DOCS_PORT")
python3 benches/coldstart/coldstart.py -n "$N" --event events/accounts-get.json "${env_args[@]}" "${proxies[@]}" \
  "${hellos[@]}" --warm-up hello-dynamo-warm=hello-dynamo --timeline import-transactions \
  --replica import-transactions=hello-import-requests "${bins[@]}"
