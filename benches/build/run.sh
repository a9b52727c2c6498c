#!/usr/bin/env bash
# What `sam build` costs after a code change (issue 10): SAM runs `cargo lambda build --release
# --bin <name>` at the workspace root once per function. Here: plain cargo with the workspace's
# release profile (cargo-lambda adds only target-cpu flags on top, and builds arm64), the
# dependencies built first, then the domain crate touched and every function built one after the
# other, as SAM does. Prints the total and the slowest binaries.
#   benches/build/run.sh            (CARGO_TARGET_DIR to reuse or separate a target directory)
set -euo pipefail
cd "$(dirname "$0")/../.."
names=(); for d in functions/*/; do names+=("$(basename "$d")"); done
cargo build -q --release --locked --bin "${names[0]}"          # the dependencies, once
touch shared/src/lib.rs
log=$(mktemp); start=$(date +%s.%N)
for n in "${names[@]}"; do
  t0=$(date +%s.%N); cargo build -q --release --locked --bin "$n"; t1=$(date +%s.%N)
  echo "$n $(echo "$t1 - $t0" | bc)" >> "$log"
done
end=$(date +%s.%N)
printf 'every function (%d), one after the other: %.0f s\n' "${#names[@]}" "$(echo "$end - $start" | bc)"
echo "slowest:"; sort -k2 -rn "$log" | head -n 5 | awk '{printf "  %-28s %6.1f s\n", $1, $2}'
echo "median: $(sort -k2 -n "$log" | awk '{a[NR]=$2} END {printf "%.1f s", a[int((NR+1)/2)]}')"
