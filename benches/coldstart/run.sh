#!/usr/bin/env bash
# The cold-start bench (issue 10): builds the reference hellos and some functions in release and
# times each the way Lambda sees it (coldstart.py: a Runtime API on loopback; process start to
# first poll = init, and to the first answer), all in one run so the machine's noise hits all
# alike; prints medians, sizes and each one's ratio to the first (the bare runtime).
#   benches/coldstart/run.sh [-n 15]
#   benches/coldstart/run.sh --quick     # debug builds, one run each: its checks (every binary
#                                        # answers its event without an error), not its figures
# Needs DynamoDB Local: AWS_ENDPOINT_URL_DYNAMODB, or the one tests/run.sh installed under
# target/tools (started here on a free port). The table is created and seeded with the examples.
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
HELLOS=(hello-runtime hello-dynamo hello-dynamo-warm hello-dynamo-s3)
args=(); for p in "${HELLOS[@]}" "${FUNCTIONS[@]}"; do args+=(-p "$p"); done
cargo build "${BUILD[@]}" --locked "${args[@]}"
. benches/coldstart/seeded-table.sh
bins=(); for p in "${HELLOS[@]}"; do bins+=("$T/$PROFILE/$p"); done
for p in "${FUNCTIONS[@]}"; do bins+=("$T/$PROFILE/$p@events/$p.json"); done
python3 benches/coldstart/coldstart.py -n "$N" --event events/accounts-get.json "${env_args[@]}" "${bins[@]}"
