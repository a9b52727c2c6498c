#!/usr/bin/env bash
# The release-profile bench (issue 10): for each profile variant, in its own target directory,
# builds the dependencies, then times what `sam build` pays after a code change (the domain
# crate touched, then the functions rebuilt and linked), and reports binary sizes. Cold start of
# every variant's binaries is then timed side by side in one coldstart.py run (ratios to the
# first binary). x86-64 here; cargo-lambda also adds target-cpu flags and builds arm64.
#   benches/profiles/run.sh [-n 15] [variant ...]      (default: every variant below)
# Needs DynamoDB Local as benches/coldstart/run.sh does (started the same way).
set -euo pipefail
cd "$(dirname "$0")/../.."
N=15; if [ "${1:-}" = "-n" ]; then N="$2"; shift 2; fi
declare -A PROFILE=(
  [thin-cu4]='lto="thin" codegen-units=4 opt-level=3'
  [thin-cu1]='lto="thin" codegen-units=1 opt-level=3'
  [fat-cu1]='lto="fat" codegen-units=1 opt-level=3'
  [off-cu16]='lto=false codegen-units=16 opt-level=3'
  [off-cu16-s]='lto=false codegen-units=16 opt-level="s"'
)
VARIANTS=("$@"); [ ${#VARIANTS[@]} -eq 0 ] && VARIANTS=(thin-cu4 thin-cu1 fat-cu1 off-cu16 off-cu16-s)
# The functions timed after a change: one of each kind of client set.
SAMPLE=(carriers-list accounts-get import-transactions widget-consent-and-connect servicing-worker)
OUT=target/profiles; mkdir -p "$OUT"
now() { date +%s.%N; }
printf '%-11s %9s %12s %13s %14s %14s\n' variant deps_s rebuild5_s per_fn_s carriers_MB accounts_get_MB | tee "$OUT/table.txt"
for v in "${VARIANTS[@]}"; do
  cfg=(); for kv in ${PROFILE[$v]}; do cfg+=(--config "profile.release.${kv}"); done
  dir="$OUT/$v"; args=(); for p in "${SAMPLE[@]}"; do args+=(-p "$p"); done
  t0=$(now); CARGO_TARGET_DIR="$dir" cargo build -q --release --locked "${cfg[@]}" "${args[@]}"; t1=$(now)
  touch shared/src/lib.rs
  t2=$(now); CARGO_TARGET_DIR="$dir" cargo build -q --release --locked "${cfg[@]}" "${args[@]}"; t3=$(now)
  size() { python3 -c "import os,sys; print(f'{os.path.getsize(sys.argv[1])/1e6:.1f}')" "$dir/release/$1"; }
  printf '%-11s %9.0f %12.1f %13.1f %14s %14s\n' "$v" "$(echo "$t1 - $t0" | bc)" "$(echo "$t3 - $t2" | bc)" \
    "$(echo "($t3 - $t2) / ${#SAMPLE[@]}" | bc -l)" "$(size carriers-list)" "$(size accounts-get)" | tee -a "$OUT/table.txt"
done

. benches/coldstart/seeded-table.sh
bins=(); for v in "${VARIANTS[@]}"; do
  mkdir -p "$OUT/bin/$v"; cp "$OUT/$v/release/accounts-get" "$OUT/bin/$v/accounts-get"; bins+=("$OUT/bin/$v/accounts-get")
done
python3 benches/coldstart/coldstart.py -n "$N" --event events/accounts-get.json "${env_args[@]}" "${bins[@]}" | tee "$OUT/coldstart.txt"
