"""Folders storyreel makes (models, scorers): marked as its own, and never written over a user's.

A folder storyreel saves holds a marker file, ``storyreel-made.json``. `replace_folder` moves a
finished staging folder into place: into a missing or empty folder always, over a folder with
the marker only when asked (``force``), and over anything else never.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

from shots.errors import ConfigError

MARKER = "storyreel-made.json"


def mark(folder: Path, what: str) -> None:
    """Record in ``folder`` that storyreel made it (and what it is)."""
    (Path(folder) / MARKER).write_text(json.dumps({"made_by": "storyreel", "what": what}) + "\n")


def made_by_storyreel(folder: Path) -> bool:
    """Whether ``folder`` carries storyreel's marker."""
    return (Path(folder) / MARKER).is_file()


def check_target(target: Path, force: bool) -> None:
    """Refuse a target folder that would be written over without right.

    Raises:
        ConfigError: ``target`` is a file, a non-empty folder storyreel did not make, or a
            storyreel folder without ``force``.
    """
    target = Path(target)
    if not target.exists() and not target.is_symlink():
        return
    if not target.is_dir() or target.is_symlink():
        raise ConfigError(f"{target} exists and is not a folder; choose a new or empty folder")
    if not any(target.iterdir()):
        return
    if not made_by_storyreel(target):
        raise ConfigError(f"{target} is not empty and was not made by storyreel; nothing was written — choose a new or empty folder")
    if not force:
        raise ConfigError(f"{target} already holds a storyreel model; add --force to replace it")


def replace_folder(staging: Path, target: Path, force: bool = False) -> Path:
    """Move the finished folder ``staging`` to ``target`` (same filesystem) under `check_target`'s
    rules; a replaced storyreel folder is moved aside first and removed only once the new one is
    in place."""
    staging, target = Path(staging), Path(target)
    check_target(target, force)
    aside = None
    if target.exists():
        aside = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(target, aside)
    os.replace(staging, target)
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)
    return target


def process_umask() -> int:
    """This process's umask, read without changing it where the system says it (Linux
    ``/proc/self/status``), else by setting and restoring it."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def follow_umask(path: Path) -> None:
    """Give a file made private by ``tempfile.mkstemp`` (0600) the mode a plainly created file
    would have (0666 less the umask), so a shared media folder can read takes and cuts."""
    os.chmod(path, 0o666 & ~process_umask())
