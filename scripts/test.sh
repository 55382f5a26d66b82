#!/usr/bin/env bash
# Installs what is missing, builds, runs every test suite (unit + ABI with GoogleTest, integration
# and plugin tests with pytest against real processes), and ends with one line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
build=${SKIFF_BUILD_DIR:-$repo/build}

scripts/install-deps.sh || { echo "0 passed, 1 failed"; exit 1; }
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" -Dtests=true -Dexamples=true >/dev/null || { echo "0 passed, 1 failed"; exit 1; }
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
  tests/plugins/transport-tcp/transport-tcp-tests; do
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
line = f"{passed} passed, {failed} failed"
if skipped:
    line += f", {skipped} skipped"
print(line)
sys.exit(1 if failed else 0)
PY
