#!/usr/bin/env bash
# Runs every libFuzzer target of fuzz/ (built in BUILD_FUZZ by `make fuzz`) for FUZZ_SECONDS each,
# one after the other, and prints a table target / runs / seconds / result. Each target starts
# from a working copy of its seeds (fuzz/corpus/<target>/ copied into BUILD_FUZZ/corpus/, which
# keeps what earlier runs found), so the repository's seeds are never written to. A crash, a
# sanitizer report, a timeout or a failed FUZZ_CHECK leaves its input in BUILD_FUZZ/artifacts/
# and makes the script exit 1.
#
#   scripts/run_fuzz.sh [BUILD_FUZZ [FUZZ_SECONDS]]     FUZZ_RUNS=N: stop each target after N runs
#   FUZZ_TARGETS="tokenizer jsonl": only those targets
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD_FUZZ=${1:-build-fuzz}
SECONDS_EACH=${2:-${FUZZ_SECONDS:-60}}
TARGETS=${FUZZ_TARGETS:-$(cat "$BUILD_FUZZ/fuzz/targets.txt")}
mkdir -p "$BUILD_FUZZ/corpus" "$BUILD_FUZZ/artifacts" "$BUILD_FUZZ/logs"
status=0
summary=()
for t in $TARGETS; do
  exe="$BUILD_FUZZ/fuzz/fuzz_$t"
  [ -x "$exe" ] || { echo "run_fuzz: $exe is missing (make fuzz builds it)" >&2; exit 1; }
  corpus="$BUILD_FUZZ/corpus/$t"
  mkdir -p "$corpus"
  [ -d "fuzz/corpus/$t" ] && cp -n "fuzz/corpus/$t"/* "$corpus"/ 2>/dev/null
  args=(-max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -max_len=8192 -print_final_stats=1
        -artifact_prefix="$BUILD_FUZZ/artifacts/$t-")
  [ -n "${FUZZ_RUNS:-}" ] && args+=(-runs="$FUZZ_RUNS")
  [ -f "fuzz/$t.dict" ] && args+=(-dict="fuzz/$t.dict")
  log="$BUILD_FUZZ/logs/$t.log"
  echo "== fuzz_$t: ${FUZZ_RUNS:+$FUZZ_RUNS runs or }${SECONDS_EACH} s"
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
    OMP_NUM_THREADS=1 "$exe" "${args[@]}" "$corpus" >"$log" 2>&1
  rc=$?
  done_line=$(grep -E '^Done [0-9]+ runs in [0-9]+ second' "$log" | tail -1)
  [ -n "$done_line" ] && echo "$done_line"
  runs=$(sed -nE 's/^Done ([0-9]+) runs in ([0-9]+) second.*/\1/p' "$log" | tail -1)
  secs=$(sed -nE 's/^Done ([0-9]+) runs in ([0-9]+) second.*/\2/p' "$log" | tail -1)
  if [ $rc -eq 0 ] && [ -n "$done_line" ]; then
    result=ok
  else
    result="FAILED (exit $rc)"
    status=1
    # The finding: libFuzzer's report and where it saved the input.
    grep -E 'ERROR|runtime error|FUZZ_CHECK|deadly signal|Test unit written|SUMMARY|terminate' "$log" | head -20 >&2
    [ -z "$runs" ] && runs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$log" | tail -1)
  fi
  summary+=("$(printf '%-16s %12s %8s  %s' "$t" "${runs:-?}" "${secs:-?}" "$result")")
done
echo
printf '%-16s %12s %8s  %s\n' target runs seconds result
printf '%s\n' "${summary[@]}"
exit $status
