"""The core's folders include one another in one direction only (docs/architecture.md, "Layers").

A folder may include its own headers and those of any folder in a lower layer; never one of its
own layer (api/ and appchannel/ are two edges that know nothing of each other) and never one
above it. A new folder must be given a layer here, and docs/architecture.md must draw it.
"""
import re
from pathlib import Path

from harness import REPO

CORE = REPO / "core" / "lib"

# Lowest first. "call" is the neutral call model; "http" and "grpc" are the protocol pieces the
# edges share; "invoke" (the invocation layer) sees neither of them.
LAYERS = [
    ["common"],
    ["config", "security", "telemetry"],
    ["call"],
    ["plugin"],
    ["invoke"],
    ["http", "grpc"],
    ["api", "appchannel"],
    ["runtime"],
]
# The CA service is linked only into the skiff tool: it sits on security, beside the host.
SIDE_FOLDERS = {"ca": {"common", "security"}}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/[^"]+"', re.M)


def layer_of(folder):
    for i, names in enumerate(LAYERS):
        if folder in names:
            return i
    return None


def allowed(src, dst):
    if src == dst or dst == "skiff":  # the SDK's headers are below everything
        return True
    if src in SIDE_FOLDERS:
        return dst in SIDE_FOLDERS[src]
    if dst in SIDE_FOLDERS:
        return False
    return layer_of(dst) < layer_of(src)


def core_files():
    return sorted(p for p in CORE.rglob("*") if p.suffix in (".hpp", ".cc", ".h"))


def test_every_folder_has_a_layer():
    folders = {p.name for p in CORE.iterdir() if p.is_dir()}
    unplaced = sorted(f for f in folders if layer_of(f) is None and f not in SIDE_FOLDERS)
    assert not unplaced, f"give these core/lib folders a layer in tests/test_layers.py: {unplaced}"


def test_includes_point_down():
    wrong = []
    for path in core_files():
        src = path.relative_to(CORE).parts[0]
        for dst in INCLUDE.findall(path.read_text()):
            if (CORE / dst).is_dir() or dst == "skiff":
                if not allowed(src, dst):
                    wrong.append(f"{path.relative_to(REPO)} includes {dst}/")
    assert not wrong, "includes against the layers (move the shared piece down):\n" + "\n".join(wrong)


def test_architecture_draws_every_layer():
    text = (REPO / "docs" / "architecture.md").read_text()
    section = text.split("## Layers", 1)
    assert len(section) == 2, "docs/architecture.md has no '## Layers' section"
    for names in LAYERS:
        for name in names:
            assert f"{name}/" in section[1], f"docs/architecture.md's layers do not show {name}/"


def test_the_rule_catches_an_upward_include():
    # The checker itself: an invocation-layer file that reached into api/ would be refused.
    assert not allowed("invoke", "api")
    assert not allowed("api", "appchannel")
    assert not allowed("call", "plugin")
    assert not allowed("invoke", "http")
    assert allowed("api", "invoke")
    assert allowed("plugin", "call")
