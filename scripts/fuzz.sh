#!/usr/bin/env bash
# libFuzzer targets of tests/fuzz, built with clang, ASan and UBSan into build-fuzz.
#
#   scripts/fuzz.sh [SECONDS]    fuzzes every target for SECONDS (default 60) of its own, starting
#                                from the seed corpus in tests/fuzz/corpus/<target>; new inputs go
#                                to build-fuzz/corpus/<target>, crashes to build-fuzz/crashes/
#   scripts/fuzz.sh --check [S]  what CI runs: every seed and regression input once, then S seconds
#                                (default 10) of fuzzing per target; exits non-zero on any finding
#   FUZZ_TARGETS="a b" limits either to those targets.
#
# A crash found becomes a regression input: copy it to tests/fuzz/regressions/<target>/.
# Ends with one line "N passed, N failed" (a target passes when it found nothing).
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
build=${SKIFF_FUZZ_BUILD_DIR:-$repo/build-fuzz}
check=false
if [ "${1:-}" = "--check" ]; then check=true; shift; fi
seconds=${1:-$($check && echo 10 || echo 60)}
targets=${FUZZ_TARGETS:-$(sed -n "s/^  '\([a-z_]*_fuzz\)'.*/\1/p" tests/fuzz/meson.build)}
export CCACHE_BASEDIR=$repo CCACHE_NOHASHDIR=1

scripts/install-deps.sh clang libclang-rt-14-dev || { echo "0 passed, 1 failed"; exit 1; }
if [ ! -f "$build/build.ninja" ]; then
  CC=clang CXX=clang++ meson setup "$build" -Dfuzzing=true -Dtests=false -Dexamples=false \
    -Dbench=false -Db_sanitize=address,undefined -Db_lundef=false -Doptimization=1 \
    "-Dcpp_args=-fno-sanitize-recover=all" >"$build-setup.log" 2>&1 ||
    { tail -n 30 "$build-setup.log"; echo "0 passed, 1 failed"; exit 1; }
fi
# shellcheck disable=SC2086
if ! flock "$build-compile.lock" meson compile -C "$build" $(for t in $targets; do echo "tests/fuzz/$t"; done) \
  >"$build/compile.log" 2>&1; then
  tail -n 60 "$build/compile.log"
  echo "0 passed, 1 failed"
  exit 1
fi

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
passed=0
failed=0
for t in $targets; do
  seeds=tests/fuzz/corpus/$t
  regressions=tests/fuzz/regressions/$t
  work=$build/corpus/$t
  crashes=$build/crashes/$t
  mkdir -p "$work" "$crashes" "$seeds" "$regressions"
  log=$build/$t.log
  # Every seed and regression input once, then fuzzing from the corpus collected so far.
  ok=true
  "$build/tests/fuzz/$t" -runs=0 "$seeds" "$regressions" >"$log" 2>&1 || ok=false
  cpu=0
  if $ok; then
    # CPU seconds, not wall time, say how much fuzzing a target got on a shared machine.
    TIMEFORMAT="cpu %U %S"
    { time "$build/tests/fuzz/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$crashes/" -print_final_stats=1 "$work" "$seeds" >>"$log" 2>&1; } \
      2>"$log.cpu" || ok=false
    cpu=$(awk '/^cpu/ { printf "%d", $2 + $3 }' "$log.cpu")
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -n 1)
  if $ok; then
    passed=$((passed + 1))
    echo "fuzz $t: ok (${execs:-0} executions in ${cpu:-0} CPU seconds, $cov)"
  else
    failed=$((failed + 1))
    echo "fuzz $t: FAILED, see $log"
    grep -E 'ERROR: |runtime error|SUMMARY|Test unit written' "$log" | head -n 8
  fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
