#!/usr/bin/env bash
# Records the plugin ABI's layout (sdk/include, as the compiler lays it out) as the baseline that
# tests/abi/test_abi_stability.py holds every later change to: sdk/abi/skiff-abi-<major>.json.
# Run it when a minor version adds to the ABI, and review the diff. It refuses a change a plugin
# built against the recorded baseline could not survive: that needs a new major (docs/plugins.md).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
/usr/bin/python3 - <<'PY'
import json, sys
sys.path.insert(0, "tests/abi")
import abi_layout
current = abi_layout.layout()
path = abi_layout.baseline_path(current["abi_major"])
if path.exists():
    problems = abi_layout.incompatible(json.loads(path.read_text()), current)
    if problems:
        print(f"refused: {path} would record an incompatible change within ABI major "
              f"{current['abi_major']}:", *problems, sep="\n  ", file=sys.stderr)
        sys.exit(1)
path.parent.mkdir(parents=True, exist_ok=True)
path.write_text(abi_layout.dumps(current))
print(f"recorded {path} (ABI {current['abi_major']}.{current['abi_minor']}: "
      f"{len(current['structs'])} structs, {len(current['typedefs'])} typedefs, "
      f"{len(current['constants'])} constants)")
PY
