"""README's commands work on a fresh clone: every file of the repository they name is tracked
by git (a storyboard left untracked by .gitignore works here and fails for everyone else)."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.conftest import ROOT

NAMED = re.compile(r"(?<![\w/.])((?:projects|docs|tests/data|benchmarks)/[\w./-]+\.(?:yaml|fountain|csv|png|py|md))")


def test_every_repository_file_readme_names_is_tracked() -> None:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    tracked = set(subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split())
    named = set(NAMED.findall((ROOT / "README.md").read_text()))
    assert "projects/previs/storyboard.yaml" in named and "projects/demo/storyboard.yaml" in named
    made = {"projects/demo/cuts/demo.otio"}  # what the commands write
    missing = sorted(n for n in named - made if n not in tracked)
    assert not missing, f"README names files a fresh clone lacks: {missing}"
