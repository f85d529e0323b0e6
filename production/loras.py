"""The LoRA files a storyboard names: found (storyboard folder, then ``<home>/loras/``), checked
before any work, and hashed so that a changed file makes exactly its shots stale."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from generation.loras import LoraFile, lora_format, lora_shape_problem, transformer_dims
from shots.checks import lora_path_problem, resolve_asset
from shots.errors import StoryboardError
from shots.graph import PlannedShot
from shots.models import Storyboard
from storage.artifacts import sha256_file


def find_lora(path: str, base_dir: Path, home: Path) -> Path:
    """The file a storyboard's LoRA ``path`` names: in the storyboard's folder, else under
    ``<home>/loras/``.

    Raises:
        ValueError: Not a path storyreel takes, or no such file in either place.
    """
    if (why := lora_path_problem(path)) is not None:
        raise ValueError(why)
    candidates = [resolve_asset(base_dir, path), resolve_asset(home / "loras", path) if (home / "loras").is_dir() else None]
    for candidate in candidates:
        if candidate is not None and candidate.is_file():
            return candidate
    looked = " or ".join(str(c) for c in (base_dir / path, home / "loras" / path))
    raise ValueError(f"LoRA {path!r} does not exist (looked for {looked})")


@lru_cache(maxsize=256)
def _digest(file: Path, mtime_ns: int, size: int) -> str:
    return sha256_file(file)


def lora_digest(file: Path) -> str:
    """SHA-256 of a LoRA file (hashed again only when the file changes)."""
    info = file.stat()
    return _digest(file, info.st_mtime_ns, info.st_size)


def digest_for(base_dir: Path, home: Path) -> Callable[[str], str]:
    """The LoRA-path → file-checksum function a submission records shots' inputs with."""
    return lambda path: lora_digest(find_lora(path, base_dir, home))


def _model_dir(model: str, home: Path) -> Path | None:
    """The local folder of a storyboard's model, when it is one (``tiny``: the one saved in
    ``<home>/models``, else the committed demo model); None for a hub id."""
    from production.config import TINY_DIR_NAME
    from generation.tiny import trained_model

    if model == "tiny":
        saved = home / "models" / TINY_DIR_NAME
        return saved if (saved / "model_index.json").is_file() else trained_model()
    folder = Path(model).expanduser()
    return folder if folder.is_dir() else None


def check_loras(board: Storyboard, file: Path, home: Path) -> None:
    """Every LoRA the storyboard names exists, is a LoRA storyreel can load and fits the
    model's transformer (its blocks and width: a LoRA of another model size is refused here, not
    in the middle of a render) — headers read only.

    Raises:
        StoryboardError: Naming the storyboard, the field and the LoRA file, listing them all.
    """
    problems = []
    named = [(f"settings.loras.{i}", lora.path) for i, lora in enumerate(board.settings.loras)]
    named += [(f"characters.{cid}.loras.{i}", lora.path) for cid, c in board.characters.items() for i, lora in enumerate(c.loras)]
    named += [(f"shots.{shot.id}.loras.{i}", lora.path) for _, shot in board.shot_list() for i, lora in enumerate(shot.loras)]
    folder = _model_dir(board.settings.model, home) if named else None
    dims = transformer_dims(folder) if folder is not None else None
    for where, path in named:
        try:
            found = find_lora(path, file.parent, home)
            lora_format(found)
            if dims is not None and (why := lora_shape_problem(found, dims)):
                problems.append(f"{where}: {why}")
        except ValueError as exc:
            problems.append(f"{where}: {exc}")
    if problems:
        raise StoryboardError("\n".join(problems), file=str(file))


def lora_files(planned: PlannedShot, base_dir: Path, home: Path) -> tuple[LoraFile, ...]:
    """The shot's LoRAs as a render applies them."""
    files = []
    for path, scale in planned.loras:
        found = find_lora(path, base_dir, home)
        files.append(LoraFile(str(found), lora_digest(found), scale))
    return tuple(files)
