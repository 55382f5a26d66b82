#!/usr/bin/env bash
# Builds skiff's Debian packages (packaging/debian: skiffd, skiff, libskiff-plugin-sdk-dev and one
# package per bundled plugin) with dpkg-buildpackage from a copy of this tree, then runs lintian
# on them; the .deb files, the build log and lintian's report land in build-deb/.
#
#   scripts/package.sh          build the packages and run lintian
#   scripts/package.sh --test   then install them on this machine and run tests/packaging (a
#                               plugin built against the installed SDK, loaded by the installed
#                               daemon run as its unit runs it); ends with "N passed, N failed"
set -euo pipefail
cd "$(dirname "$0")/.."
run_tests=false
[ "${1:-}" = "--test" ] && run_tests=true
scripts/install-deps.sh debhelper lintian dpkg-dev fakeroot help2man
out=$(realpath -m build-deb)
version=$(sed -n '1s/^skiff (\([^)]*\)).*/\1/p' packaging/debian/changelog)
# Always the same staging path: the debug-info path map dpkg-buildflags adds names it, so the
# compiler cache serves the next package build from any checkout.
stage=/tmp/skiff-package
src="$stage/skiff-$version"
rm -rf "$out" "$stage" && mkdir -p "$out" "$src"
# The tracked files and any not yet committed, never a build directory.
git ls-files -z --cached --others --exclude-standard | grep -zv '^debian$' |
  tar --null -T - -cf - | tar -xf - -C "$src"
cp -rL packaging/debian "$src/debian" # the units are links to packaging/systemd
started=$SECONDS
# debhelper points HOME into the build tree: name the compiler cache's real place.
export CCACHE_DIR="${CCACHE_DIR:-$(ccache -k cache_dir)}"
if ! (cd "$src" && CCACHE_BASEDIR="$src" CCACHE_NOHASHDIR=1 CC="ccache gcc" CXX="ccache g++" \
  dpkg-buildpackage -b -us -uc -j"$(nproc)" >"$out/build.log" 2>&1); then
  tail -n 40 "$out/build.log"
  echo "package build failed (all of it: $out/build.log)"
  echo "0 passed, 1 failed"
  exit 1
fi
mv "$stage"/*.deb "$stage"/*.changes "$stage"/*.buildinfo "$out"/
echo "built in $((SECONDS - started)) s:"
(cd "$out" && ls -1 ./*.deb)
# lintian: errors and warnings fail; the overrides, each with why, are in packaging/debian.
if ! lintian --fail-on error,warning --info "$out"/*.changes | tee "$out/lintian.txt"; then
  echo "lintian reports errors or warnings (above; also in $out/lintian.txt)"
  echo "0 passed, 1 failed"
  exit 1
fi
echo "lintian: no errors, no warnings"
if $run_tests; then
  (cd tests && SKIFF_DEB_DIR="$out" timeout 900 /usr/bin/python3 -m pytest -q -rfE packaging \
    --junitxml="$out/packaging.xml" 2>&1 | tail -n 40)
  /usr/bin/python3 - "$out/packaging.xml" <<'PY'
import sys, xml.etree.ElementTree as ET
passed = failed = 0
for case in ET.parse(sys.argv[1]).getroot().iter("testcase"):
    bad = case.find("failure") is not None or case.find("error") is not None
    skipped = case.find("skipped") is not None
    failed += bad or skipped  # here nothing may be skipped: the packages are there
    passed += not (bad or skipped)
print(f"{passed} passed, {failed} failed")
PY
else
  echo "packages in $out"
fi
