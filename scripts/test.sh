#!/usr/bin/env bash
# Installs what is missing, builds, runs every test suite (unit + ABI with GoogleTest, integration
# and plugin tests with pytest against real processes), and ends with one line "N passed, N failed".
#
# scripts/test.sh --sanitize builds into build-sanitize with AddressSanitizer and
# UndefinedBehaviorSanitizer (every UBSan finding fatal) and runs the same suites against those
# binaries; a sanitizer report in the output of any process a test started fails that test.
# The counts of a run are also written to <build>/test-reports/summary (for .ci/run).
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
sanitize=false
[ "${1:-}" = "--sanitize" ] && sanitize=true
if $sanitize; then
  build=${SKIFF_SANITIZE_BUILD_DIR:-$repo/build-sanitize}
  # -O1 and line tables only (-g1): stack traces name file and line, and the build is about
  # half the time of -O2 -g. The benchmark tools are built too: their tests drive skiffd under
  # load through two sidecars.
  setup_options=(-Db_sanitize=address,undefined -Db_lundef=false -Doptimization=1 -Ddebug=false
    "-Dcpp_args=-fno-sanitize-recover=all -fno-omit-frame-pointer -g1"
    "-Dc_args=-fno-sanitize-recover=all -fno-omit-frame-pointer -g1")
  # Leaks are not checked: plugins are never unloaded by design, and grpc++ keeps process-wide
  # state until exit. Every other finding ends the process, and the harness reports it.
  export ASAN_OPTIONS=detect_leaks=0:abort_on_error=0:halt_on_error=1:detect_stack_use_after_return=0
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  export SKIFF_SANITIZED=1
else
  build=${SKIFF_BUILD_DIR:-$repo/build}
  setup_options=()
fi
# Relative paths in ccache's keys: a fresh clone elsewhere reuses what an earlier build compiled.
export CCACHE_BASEDIR=$repo CCACHE_NOHASHDIR=1

scripts/install-deps.sh || { echo "0 passed, 1 failed"; exit 1; }
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" -Dtests=true -Dexamples=true "${setup_options[@]}" >/dev/null ||
    { echo "0 passed, 1 failed"; exit 1; }
fi
if ! meson compile -C "$build" >"$build/compile.log" 2>&1; then
  tail -n 60 "$build/compile.log"
  echo "build failed"
  echo "0 passed, 1 failed"
  exit 1
fi

reports="$build/test-reports"
rm -rf "$reports" && mkdir -p "$reports"

echo "== unit, ABI and plugin tests (GoogleTest)"
for suite in tests/unit/unit-tests tests/plugins/transport-grpc/transport-grpc-tests \
  tests/plugins/transport-tcp/transport-tcp-tests \
  tests/plugins/observer-prometheus/observer-prometheus-tests \
  tests/plugins/observer-otlp/observer-otlp-tests; do
  name=$(basename "$suite")
  echo "-- $name"
  timeout 600 "$build/$suite" --gtest_output="xml:$reports/$name.xml" 2>&1 |
    grep -E '^\[  (PASSED|FAILED) |^\[==========\]|Failure|^[^[ ].*:[0-9]+: '
done

echo "== integration and plugin tests"
# Debian's interpreter, which has the python3-pytest and python3-requests that install-deps added.
(cd tests && SKIFF_BUILD_DIR="$build" timeout 1800 /usr/bin/python3 -m pytest -q -rfE \
  --junitxml="$reports/integration.xml" 2>&1 | tail -n 40)

/usr/bin/python3 - "$reports" <<'PY'
import sys, pathlib, xml.etree.ElementTree as ET
passed = failed = skipped = 0
for name in ("unit-tests.xml", "transport-grpc-tests.xml", "transport-tcp-tests.xml",
             "integration.xml"):
    if not (pathlib.Path(sys.argv[1]) / name).exists():
        print(f"missing report {name}: that suite crashed before reporting")
        failed += 1
for f in sorted(pathlib.Path(sys.argv[1]).glob("*.xml")):
    for case in ET.parse(f).getroot().iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
        elif case.find("skipped") is not None or case.get("status") == "notrun":
            skipped += 1
        else:
            passed += 1
(pathlib.Path(sys.argv[1]) / "summary").write_text(f"{passed} {failed} {skipped}\n")
line = f"{passed} passed, {failed} failed"
if skipped:
    line += f", {skipped} skipped"
print(line)
sys.exit(1 if failed else 0)
PY
