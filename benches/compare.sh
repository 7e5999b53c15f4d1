#!/usr/bin/env bash
# Instruction counts (callgrind) of `check` and of `generate`'s core, this tree against another
# revision, in one run: benches/tools/pipeline_count.rs is built against both (it uses the public API
# only). Wall time on this shared 2-core machine varies by several percent from run to run;
# instruction counts repeat exactly.
#
# Usage: benches/compare.sh [REV] (default: HEAD~1). Needs valgrind and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
rev="${1:-HEAD~1}"
work="${FLASH_BENCH_WORK:-${TMPDIR:-/tmp}/flashc-compare}"
mkdir -p "$work"
base="$work/baseline"
if [ ! -d "$base/.git" ] && [ ! -f "$base/.git" ]; then
  git worktree add -f --detach "$base" "$rev" >/dev/null
else
  git -C "$base" checkout -q --detach "$rev"
fi
mkdir -p "$base/benches/tools"
cp benches/tools/pipeline_count.rs "$base/benches/tools/pipeline_count.rs"
# A base older than CrateInfo::features (issue 18) has no such field to fill in.
grep -rq 'pub features: Vec<String>' "$base/src/" \
  || sed -i '/^ *features: Vec::new(),$/d' "$base/benches/tools/pipeline_count.rs"
grep -q 'name = "pipeline_count"' "$base/Cargo.toml" || cat >>"$base/Cargo.toml" <<'TOML'

[[example]]
name = "pipeline_count"
path = "benches/tools/pipeline_count.rs"
TOML
target="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release --locked --example pipeline_count >/dev/null
cp "$target/release/examples/pipeline_count" "$work/new"
(cd "$base" && CARGO_TARGET_DIR="$target" cargo build --release --locked --example pipeline_count >/dev/null)
cp "$target/release/examples/pipeline_count" "$work/old"
python3 benches/make_project.py 100 "$work/project-100" >/dev/null

count() { # binary args... → instructions
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 |
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
printf '%-28s %15s %15s %8s\n' case old new new/old
for case in "check 1000" "generate $work/project-100"; do
  # shellcheck disable=SC2086
  old=$(count "$work/old" $case)
  # shellcheck disable=SC2086
  new=$(count "$work/new" $case)
  label=$(echo "$case" | sed "s|$work/||")
  printf '%-28s %15s %15s %8s\n' "$label" "$old" "$new" "$(python3 -c "print(f'{$new/$old:.3f}')")"
done
