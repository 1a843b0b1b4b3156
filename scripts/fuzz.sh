#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, -DPOETRYOPS_FUZZ=ON: clang, ASan + UBSan) into ./build-fuzz and runs
# each one on a copy of its seed corpus (fuzz/corpus/NAME/ is not modified). docs/reliability.md "Fuzzing".
#   scripts/fuzz.sh                       # smoke: every target 30 s, 2 at a time (what scripts/test.sh runs)
#   scripts/fuzz.sh --long                # long profile: every target FUZZ_LONG_SECONDS (default 7200 s)
#   scripts/fuzz.sh --time 300 dockerfile pep440   # chosen targets, 300 s each
#   scripts/fuzz.sh --merge --time 600    # also fold new interesting inputs back into fuzz/corpus/ (review, commit)
#   scripts/fuzz.sh --build-only          # or --no-build: run what build-fuzz holds
# Environment: FUZZ_JOBS (targets run at once, default 2), FUZZ_RSS_MB (default 2048), FUZZ_TIMEOUT (seconds per
# input, default 10), BUILD_DIR (default build-fuzz). Exits 1 on a crash, leak, UB or timeout and prints the
# reproducer and the command that replays it.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=30 merge=0 build_only=0 build=1 targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --long) seconds=${FUZZ_LONG_SECONDS:-7200} ;;
    --time) seconds=$2; shift ;;
    --merge) merge=1 ;;
    --build-only) build_only=1 ;;
    --no-build) build=0 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1") ;;
  esac
  shift
done
BUILD_DIR=${BUILD_DIR:-build-fuzz}
jobs=${FUZZ_JOBS:-2}
rss=${FUZZ_RSS_MB:-2048}
timeout=${FUZZ_TIMEOUT:-10}

export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
  gen=()
  command -v ninja >/dev/null 2>&1 && gen=(-G Ninja)
  CC=clang CXX=clang++ cmake -S . -B "$BUILD_DIR" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DPOETRYOPS_FUZZ=ON \
    -DPOETRYOPS_BUILD_TESTS=OFF -DPOETRYOPS_BUILD_BENCH=OFF >/dev/null
fi
start=$SECONDS
if [ "$build" = 1 ]; then
  if ! cmake --build "$BUILD_DIR" -j "${JOBS:-$(nproc)}" --target fuzzers >"$BUILD_DIR/fuzz-build.log" 2>&1; then
    grep -v '^\[' "$BUILD_DIR/fuzz-build.log" | tail -40
    echo "fuzz: build failed ($BUILD_DIR/fuzz-build.log)" >&2
    exit 1
  fi
  echo "fuzz: built $BUILD_DIR/fuzz in $((SECONDS - start)) s"
fi
[ "$build_only" = 1 ] && exit 0

if [ ${#targets[@]} -eq 0 ]; then
  for f in fuzz/fuzz_*.cpp; do n=${f#fuzz/fuzz_}; targets+=("${n%.cpp}"); done
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/poetryops-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT

# run NAME: fuzzes a copy of fuzz/corpus/NAME for $seconds; writes $work/NAME.log and $work/NAME.rc.
run() {
  local name=$1 exe="$BUILD_DIR/fuzz/fuzz_$1" rc=0
  mkdir -p "$work/$name.corpus" "$work/$name.artifacts"
  cp -R "fuzz/corpus/$name/." "$work/$name.corpus/"
  echo "fuzz: $name start ($(ls "$work/$name.corpus" | wc -l) seeds, ${seconds} s)"
  "$exe" -max_total_time="$seconds" -rss_limit_mb="$rss" -timeout="$timeout" -print_final_stats=1 \
    -artifact_prefix="$work/$name.artifacts/" "$work/$name.corpus" >"$work/$name.log" 2>&1 || rc=$?
  echo $rc >"$work/$name.rc"
  local done_line
  done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$work/$name.log" | tail -1 || true)
  local execs cov corp
  execs=$(sed -n 's/.*exec\/s: \([0-9]*\).*/\1/p' <<<"$done_line")
  cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$done_line")
  corp=$(sed -n 's/.*corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p' <<<"$done_line")
  if [ "$rc" = 0 ]; then
    echo "fuzz: $name ok: ${execs:-?} execs/s, cov ${cov:-?}, corpus ${corp:-?}"
  else
    echo "fuzz: $name FAILED (exit $rc)"
  fi
}

running=0
for name in "${targets[@]}"; do
  [ -x "$BUILD_DIR/fuzz/fuzz_$name" ] || { echo "fuzz: no target fuzz_$name" >&2; exit 2; }
  run "$name" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then wait -n || true; running=$((running - 1)); fi
done
wait

failed=0
for name in "${targets[@]}"; do
  if [ "$(cat "$work/$name.rc")" != 0 ]; then
    failed=1
    keep=$(mktemp -d "${TMPDIR:-/tmp}/poetryops-fuzz-$name.XXXXXX")
    cp -R "$work/$name.artifacts/." "$keep/"
    cp "$work/$name.log" "$keep/fuzz.log"
    grep -E 'ERROR: |SUMMARY: |runtime error' "$work/$name.log" | head -5 | sed "s/^/fuzz: $name: /"
    for a in "$keep"/crash-* "$keep"/leak-* "$keep"/timeout-* "$keep"/oom-*; do
      [ -e "$a" ] || continue
      echo "fuzz: $name reproducer: $a"
      echo "fuzz:   replay: $BUILD_DIR/fuzz/fuzz_$name $a"
    done
    echo "fuzz: $name log: $keep/fuzz.log"
  elif [ "$merge" = 1 ]; then
    before=$(ls "fuzz/corpus/$name" | wc -l)
    "$BUILD_DIR/fuzz/fuzz_$name" -merge=1 -rss_limit_mb="$rss" -timeout="$timeout" "fuzz/corpus/$name" \
      "$work/$name.corpus" >"$work/$name.merge.log" 2>&1
    echo "fuzz: $name merged: fuzz/corpus/$name $before -> $(ls "fuzz/corpus/$name" | wc -l) files"
  fi
done
echo "fuzz: ${#targets[@]} targets, ${seconds} s each, $jobs at a time: $((SECONDS - start)) s in all"
exit $failed
