"""Tiny pipelines: the trained embedded demo model, and random-weight builders for tests.

``model: tiny`` is a small Wan 2.1 image-to-video pipeline trained on the synthetic motion world
(`generation.training`) and committed under ``generation/weights/``; it loads through
``from_pretrained`` on that folder like real weights. `make_tiny` (``storyreel models make-tiny
--random``) saves a random pipeline of any family (`generation.builders`) to exercise the same
loading path without any download; they paint noise.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from generation.builders import BUILDERS
from shots.files import check_target, mark, replace_folder

WEIGHTS = Path(__file__).resolve().parent / "weights"
"""Where `python -m generation.training --install` puts the trained demo models."""


def make_tiny(directory: Path, family: str = "wan", force: bool = False) -> Path:
    """Build a tiny random pipeline of ``family`` and save it to ``directory`` atomically.

    ``directory`` must be new or empty, or a storyreel model replaced with ``force``
    (`shots.files.replace_folder`): a user's folder is never written over.
    """
    if family not in BUILDERS:
        raise ValueError(f"no tiny builder for {family!r}; choose from {', '.join(BUILDERS)}")
    from generation.loading import quiet_progress_bars

    directory = Path(directory)
    check_target(directory, force)  # before minutes of work, not after
    quiet_progress_bars()
    directory.parent.mkdir(parents=True, exist_ok=True)
    pipe = BUILDERS[family]()
    with tempfile.TemporaryDirectory(dir=directory.parent, prefix=".tiny-") as tmp:
        staging = Path(tmp) / "model"
        pipe.save_pretrained(staging, safe_serialization=True)
        mark(staging, f"tiny random {family} pipeline")
        replace_folder(staging, directory, force)
    return directory


def copy_trained(directory: Path, force: bool = False) -> Path:
    """Copy the committed trained demo pipeline to ``directory`` (same rules as `make_tiny`)."""
    trained = trained_model()
    if trained is None:
        raise FileNotFoundError("this installation has no trained demo model")
    directory = Path(directory)
    check_target(directory, force)
    directory.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=directory.parent, prefix=".tiny-") as tmp:
        staging = Path(shutil.copytree(trained, Path(tmp) / "model"))
        mark(staging, "trained tiny wan pipeline (the embedded demo model)")
        replace_folder(staging, directory, force)
    return directory


def trained_model() -> Path | None:
    """The committed trained demo pipeline, if this installation has it."""
    path = WEIGHTS / "tiny-wan-i2v"
    return path if (path / "model_index.json").is_file() else None


def trained_scorer() -> Path | None:
    """The committed trained demo scorer (an open_clip ``local-dir`` folder), if present."""
    path = WEIGHTS / "tiny-clip"
    return path if (path / "open_clip_config.json").is_file() else None


def ensure_tiny(directory: Path) -> Path:
    """The embedded default model: ``directory`` when something is saved there (e.g. by
    ``storyreel models make-tiny --random``), else the committed trained model, else a random
    one built there on first use."""
    if (Path(directory) / "model_index.json").is_file():
        return Path(directory)
    trained = trained_model()
    if trained is not None:
        return trained
    make_tiny(directory, "wan")
    return Path(directory)
