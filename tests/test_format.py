"""The C and C++ sources follow the repository's .clang-format."""
import shutil
import subprocess

import pytest

from harness import REPO


def test_sources_are_clang_formatted():
    if shutil.which("clang-format") is None:
        pytest.skip("clang-format is not installed")
    files = subprocess.run(["git", "ls-files", "*.c", "*.cc", "*.h", "*.hpp"], cwd=REPO, capture_output=True,
                           text=True, check=True).stdout.split()
    assert files
    r = subprocess.run(["clang-format", "--dry-run", "-Werror", *files], cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 0, "run clang-format -i on:\n" + "\n".join(
        sorted({line.split(":")[0] for line in r.stderr.splitlines() if ": error:" in line}))
