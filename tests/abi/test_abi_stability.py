"""The plugin ABI stays compatible within a major version: the layout of sdk/include, read by abidw
from what the compiler made of it, against the baseline recorded in sdk/abi/ (abi_layout.py says
what is compatible). The check itself is shown to catch each kind of break on copies of the headers
edited as a careless change would edit them, and to let a minor's additions through."""
import json
import shutil

import pytest

import abi_layout

BASELINE = abi_layout.baseline_path(abi_layout.abi_version()[0])


@pytest.fixture(scope="module")
def current():
    return abi_layout.layout()


def test_the_headers_keep_every_struct_member_and_constant_of_the_recorded_baseline(current):
    baseline = json.loads(BASELINE.read_text())
    assert baseline["abi_major"] == current["abi_major"]
    assert not abi_layout.incompatible(baseline, current)
    # What a plugin reads most: the descriptor, the host table, the status codes.
    assert current["structs"]["skiff_plugin_info_t"]["members"][0] == ["struct_size", 0, "uint32_t"]
    assert "skiff_host_api_t" in current["structs"]
    assert current["constants"]["SKIFF_ERR_UNAVAILABLE"] == 14


def test_the_baseline_records_the_current_minor(current):
    # Additions since the baseline are compatible, but the next change must be held to them too:
    # a minor that adds to the ABI records its layout (scripts/abi-baseline.sh) in the same change.
    baseline = json.loads(BASELINE.read_text())
    if baseline == current:
        return
    assert current["abi_minor"] > baseline["abi_minor"], (
        "the ABI's layout changed without a new SKIFF_ABI_MINOR")
    pytest.fail(f"ABI {current['abi_major']}.{current['abi_minor']} adds to the layout recorded for "
                f"{baseline['abi_major']}.{baseline['abi_minor']}: run scripts/abi-baseline.sh "
                "and commit sdk/abi/")


def edited_headers(tmp_path, header, old, new):
    include = tmp_path / "include"
    shutil.copytree(abi_layout.HEADERS, include)
    path = include / "skiff" / header
    text = path.read_text()
    assert old in text, f"{old!r} is no longer in {header}: update this test"
    path.write_text(text.replace(old, new, 1))
    return include


@pytest.mark.parametrize("header,old,new,expected", [
    ("abi.h", "  const char* ptr;\n  size_t len;\n} skiff_str_t;",
     "  size_t len;\n  const char* ptr;\n} skiff_str_t;", "skiff_str_t.ptr moved from bit 0 to bit 64"),
    ("abi.h", "  const char* name;     /* NUL", "  uint32_t flags;\n  const char* name;     /* NUL",
     "skiff_plugin_info_t.flags was inserted"),
    ("abi.h", "  size_t component_count;\n} skiff_plugin_info_t;",
     "  uint32_t component_count;\n} skiff_plugin_info_t;",
     "skiff_plugin_info_t.component_count changed type from size_t to uint32_t"),
    ("abi.h", "  SKIFF_ERR_UNAVAILABLE = 14,", "  SKIFF_ERR_UNAVAILABLE = 15,",
     "constant SKIFF_ERR_UNAVAILABLE changed from 14 to 15"),
    ("abi.h", "  const char* version;  /* NUL-terminated plugin version, free form */\n", "",
     "skiff_plugin_info_t.version was removed or renamed"),
    ("abi.h", "typedef int32_t skiff_status_t;", "typedef int64_t skiff_status_t;",
     "typedef skiff_status_t changed from int32_t to int64_t"),
])
def test_each_kind_of_break_is_named(tmp_path, header, old, new, expected):
    baseline = json.loads(BASELINE.read_text())
    problems = abi_layout.incompatible(baseline, abi_layout.layout(edited_headers(tmp_path, header, old, new)))
    assert any(expected in p for p in problems), problems


def test_a_function_pointer_given_another_parameter_is_a_break(tmp_path, current):
    # A host-table entry whose signature changes breaks every plugin that calls it.
    [(name, offset, fn)] = [m for m in current["structs"]["skiff_host_api_t"]["members"]
                            if m[0] == "log"]
    assert fn.startswith("void(void*, int32_t, skiff_str_t, skiff_str_t)")
    include = tmp_path / "include"
    shutil.copytree(abi_layout.HEADERS, include)
    host = include / "skiff" / "host.h"
    text = host.read_text()
    i = text.index("(*log)(")
    host.write_text(text[:i] + text[i:].replace("(*log)(", "(*log)(int extra, ", 1))
    problems = abi_layout.incompatible(current, abi_layout.layout(include))
    assert any("skiff_host_api_t.log changed type" in p for p in problems), problems


def test_a_minors_additions_are_compatible(tmp_path):
    # What ABI 1.x may do: a member past the old end of a struct that starts with struct_size, a
    # new struct, a new constant.
    include = edited_headers(
        tmp_path, "abi.h", "  size_t component_count;\n} skiff_plugin_info_t;",
        "  size_t component_count;\n  const char* license; /* since 1.6 */\n} skiff_plugin_info_t;\n"
        "typedef struct skiff_new_t {\n  uint32_t struct_size;\n} skiff_new_t;\n"
        "enum { SKIFF_NEW_FLAG = 1 };")
    baseline = json.loads(BASELINE.read_text())
    grown = abi_layout.layout(include)
    assert grown["structs"]["skiff_plugin_info_t"]["size_bits"] > \
        baseline["structs"]["skiff_plugin_info_t"]["size_bits"]
    assert "skiff_new_t" in grown["structs"] and grown["constants"]["SKIFF_NEW_FLAG"] == 1
    assert abi_layout.incompatible(baseline, grown) == []
