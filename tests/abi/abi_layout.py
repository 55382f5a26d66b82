"""The plugin ABI's layout as the compiler lays it out, and the rule a minor version must keep.

`layout(include_dir)` compiles a probe that includes every public header (with debug info for every
type, used or not), reads its DWARF with abidw (Debian's abigail-tools) and keeps what a plugin
built against those headers depends on: each `skiff_*` struct's size and members (name, offset,
type), each `skiff_*` typedef, and each `SKIFF_*` enumerator's value.

`incompatible(baseline, current)` names every change a plugin built against the baseline could not
survive (docs/plugins.md, "Versioning"): within a major version a public struct only grows at its
end, nothing is removed, renamed, moved or retyped, and no constant changes its value. What a minor
adds (a member past the old end, a new struct or constant) is compatible.

Run as a script, it prints the layout of sdk/include as JSON: scripts/abi-baseline.sh records it
as sdk/abi/skiff-abi-<major>.json."""
import json
import pathlib
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

ROOT = pathlib.Path(__file__).resolve().parents[2]
HEADERS = ROOT / "sdk" / "include"

PROBE = """#include <skiff/skiff.h>
#include <skiff/host.h>
#include <skiff/middleware.h>
#include <skiff/observer.h>
#include <skiff/resolver.h>
#include <skiff/transport.h>
__attribute__((visibility("default"))) int skiff_abi_probe(void) { return 0; }
"""


def abi_version(include_dir=HEADERS):
    text = (pathlib.Path(include_dir) / "skiff" / "abi.h").read_text()
    return tuple(int(re.search(rf"#define SKIFF_ABI_{part} (\d+)u", text).group(1))
                 for part in ("MAJOR", "MINOR"))


def abidw_xml(include_dir):
    """abidw's view of every type the public headers declare."""
    with tempfile.TemporaryDirectory() as tmp:
        probe, so = pathlib.Path(tmp) / "probe.c", pathlib.Path(tmp) / "probe.so"
        probe.write_text(PROBE)
        subprocess.run(["cc", "-std=c11", "-g", "-fno-eliminate-unused-debug-types", "-shared",
                        "-fPIC", "-fvisibility=hidden", "-I", str(include_dir), str(probe), "-o",
                        str(so)], check=True, capture_output=True, text=True)
        out = subprocess.run(["abidw", "--load-all-types", "--no-corpus-path", "--no-show-locs",
                              str(so)], check=True, capture_output=True, text=True)
        return out.stdout


class Types:
    """Renders abidw's type ids as C-like strings that compare equal when the layout is the same."""

    def __init__(self, root):
        self.by_id = {e.get("id"): e for e in root.iter() if e.get("id") and e.tag != "subrange"}

    def name(self, type_id, depth=0):
        e = self.by_id.get(type_id)
        if e is None:
            return "void" if type_id in (None, "type-id-void") else f"?{type_id}"
        tag = e.tag
        if tag == "type-decl":
            return e.get("name")
        if tag in ("class-decl", "union-decl"):
            kind = "union" if tag == "union-decl" else "struct"
            if e.get("is-anonymous") != "yes":
                # Every skiff struct has a typedef of its own name: `struct skiff_x_t` and
                # `skiff_x_t` are the same type, whichever the header spelled.
                name = e.get("name")
                return name if name.startswith("skiff_") else f"{kind} {name}"
            if depth > 8:
                return kind
            fields = ", ".join(f"{n}@{o}:{t}" for n, o, t in self.members(e, depth + 1))
            return f"{kind} {{{fields}}}"
        if tag == "enum-decl":
            return "enum" if e.get("is-anonymous") == "yes" else f"enum {e.get('name')}"
        if tag == "typedef-decl":
            return e.get("name")
        if tag == "pointer-type-def":
            return self.name(e.get("type-id"), depth) + "*"
        if tag == "qualified-type-def":
            # East const: `skiff_component_t const* const*`, unambiguous for pointers to const.
            quals = [q for q in ("const", "volatile", "restrict") if e.get(q) == "yes"]
            return " ".join([self.name(e.get("type-id"), depth)] + quals)
        if tag == "array-type-def":
            dims = "".join(f"[{s.get('length')}]" for s in e.findall("subrange"))
            return self.name(e.get("type-id"), depth) + dims
        if tag == "function-type":
            params = []
            for p in e.findall("parameter"):
                params.append("..." if p.get("is-variadic") == "yes" else self.name(p.get("type-id"), depth))
            ret = e.find("return")
            return f"{self.name(ret.get('type-id') if ret is not None else None, depth)}({', '.join(params)})"
        return f"?{tag}"

    def members(self, e, depth=0):
        out = []
        for m in e.findall("data-member"):
            var = m.find("var-decl")
            out.append((var.get("name"), int(m.get("layout-offset-in-bits")),
                        self.name(var.get("type-id"), depth)))
        return out


def layout_of_xml(xml_text):
    root = ET.fromstring(xml_text)
    types = Types(root)
    structs, typedefs, constants = {}, {}, {}
    for e in root.iter():
        name = e.get("name") or ""
        if e.tag in ("class-decl", "union-decl") and name.startswith("skiff_"):
            if e.get("is-declaration-only") == "yes":
                structs.setdefault(name, {"opaque": True})
                continue
            structs[name] = {"size_bits": int(e.get("size-in-bits")),
                             "members": [list(m) for m in types.members(e)]}
        elif e.tag == "typedef-decl" and name.startswith("skiff_"):
            typedefs[name] = types.name(e.get("type-id"))
        elif e.tag == "enumerator" and name.startswith("SKIFF_"):
            constants[name] = int(e.get("value"))
    return {"abi_major": None, "abi_minor": None, "structs": dict(sorted(structs.items())),
            "typedefs": dict(sorted(typedefs.items())), "constants": dict(sorted(constants.items()))}


def layout(include_dir=HEADERS):
    result = layout_of_xml(abidw_xml(include_dir))
    result["abi_major"], result["abi_minor"] = abi_version(include_dir)
    return result


def incompatible(baseline, current):
    """Every change that breaks a plugin built against `baseline`, as one line each."""
    problems = []
    if baseline["abi_major"] != current["abi_major"]:
        return []  # a new major may change anything; it gets a baseline of its own
    for name, old in baseline["structs"].items():
        new = current["structs"].get(name)
        if new is None:
            problems.append(f"struct {name} was removed")
            continue
        if old.get("opaque"):
            continue
        if new.get("opaque"):
            problems.append(f"struct {name} lost its definition")
            continue
        if new["size_bits"] < old["size_bits"]:
            problems.append(f"struct {name} shrank from {old['size_bits'] // 8} to "
                            f"{new['size_bits'] // 8} bytes")
        now = {m[0]: m for m in new["members"]}
        for member, offset, type_name in old["members"]:
            moved = now.get(member)
            if moved is None:
                problems.append(f"{name}.{member} was removed or renamed")
            elif moved[1] != offset:
                problems.append(f"{name}.{member} moved from bit {offset} to bit {moved[1]}")
            elif moved[2] != type_name:
                problems.append(f"{name}.{member} changed type from {type_name} to {moved[2]}")
        for member, offset, _ in new["members"]:
            if member not in {m[0] for m in old["members"]} and offset < old["size_bits"]:
                problems.append(f"{name}.{member} was inserted at bit {offset}, inside the "
                                f"struct's old {old['size_bits'] // 8} bytes (append only)")
    for name, type_name in baseline["typedefs"].items():
        if name not in current["typedefs"]:
            problems.append(f"typedef {name} was removed")
        elif current["typedefs"][name] != type_name:
            problems.append(f"typedef {name} changed from {type_name} to {current['typedefs'][name]}")
    for name, value in baseline["constants"].items():
        if name not in current["constants"]:
            problems.append(f"constant {name} was removed")
        elif current["constants"][name] != value:
            problems.append(f"constant {name} changed from {value} to {current['constants'][name]}")
    return problems


def dumps(result):
    """JSON with one line per member, so that a change to the baseline reads as a one-line diff."""
    lines = ["{", f' "abi_major": {result["abi_major"]},', f' "abi_minor": {result["abi_minor"]},',
             ' "structs": {']
    structs = list(result["structs"].items())
    for i, (name, s) in enumerate(structs):
        end = "," if i + 1 < len(structs) else ""
        if s.get("opaque"):
            lines.append(f'  {json.dumps(name)}: {{"opaque": true}}{end}')
            continue
        lines.append(f'  {json.dumps(name)}: {{"size_bits": {s["size_bits"]}, "members": [')
        lines += [f"   {json.dumps(m)}" + ("," if j + 1 < len(s["members"]) else "")
                  for j, m in enumerate(s["members"])]
        lines.append(f"  ]}}{end}")
    lines.append(" },")
    for key in ("typedefs", "constants"):
        items = list(result[key].items())
        lines.append(f' "{key}": {{')
        lines += [f"  {json.dumps(k)}: {json.dumps(v)}" + ("," if j + 1 < len(items) else "")
                  for j, (k, v) in enumerate(items)]
        lines.append(" }," if key == "typedefs" else " }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def baseline_path(major):
    return ROOT / "sdk" / "abi" / f"skiff-abi-{major}.json"


if __name__ == "__main__":
    include = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else HEADERS
    sys.stdout.write(dumps(layout(include)))
