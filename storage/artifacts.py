"""The artifact store: media files under ``<home>/<project>/``, referenced by relative path + SHA-256.

Writers produce a file anywhere under the project's staging folder (same filesystem) and
`ArtifactStore.put` renames it into place atomically; a crash leaves either the old file or
none, never half of one. A missing or changed file is detected by `verify`, never used.

With a ``remote`` fsspec URL (``s3://bucket/prefix``, ``gs://…``, ``file:///shared``) the home
folder is a local cache: `put` also uploads, and `path` downloads a file this host lacks, so
workers and the flow on different hosts see the same media.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from shots.errors import StorageError

FileState = Literal["ok", "missing", "changed"]
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
MAX_PROJECT_NAME = 100


def project_name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a project (None when it can).

    A project name is one folder under the home: 1–100 characters, no path separator, no
    control character, not ``.``/``..`` and not hidden (a leading dot); spaces and letters of
    any script are fine (``my film``).
    """
    if not name or len(name) > MAX_PROJECT_NAME or len(name.encode()) > 255:
        return f"a project name has 1 to {MAX_PROJECT_NAME} characters"
    if name != name.strip():
        return "a project name does not start or end with a space"
    if "/" in name or "\\" in name:
        return "a project name is one folder name: no '/' or '\\'"
    if name.startswith("."):
        return "a project name does not start with '.' (no '.', '..' or hidden folders)"
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in name):
        return "a project name has no control characters"
    return None


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class TakeFiles:
    """Relative paths of one take's media: the MP4 and, beside it, its last frame (the next
    shot's hand-off), contact sheet, first frame and the frame it started from (the review page
    shows those two side by side)."""

    video: str
    last_frame: str
    sheet: str
    first_frame: str
    start_frame: str

    @classmethod
    def of_video(cls, video: str) -> TakeFiles:
        """A take's files, from its MP4's path (``….mp4`` → ``….last.png``, …)."""
        stem = video.removesuffix(".mp4")
        return cls(f"{stem}.mp4", f"{stem}.last.png", f"{stem}.sheet.png", f"{stem}.first.png", f"{stem}.start.png")


class ArtifactStore:
    """Media of every project under one home folder."""

    def __init__(self, home: Path, remote: str | None = None) -> None:
        self.home = Path(home).resolve()
        self.remote = remote.rstrip("/") if remote else None
        self._fs: Any = None

    def _remote_fs(self) -> Any:
        if self._fs is None:
            import fsspec

            try:
                self._fs, _ = fsspec.core.url_to_fs(self.remote)
            except (ImportError, ValueError) as exc:
                raise StorageError(f"media store {self.remote!r} cannot be used: {exc}") from None
        return self._fs

    def _remote_path(self, relative: str) -> str:
        import fsspec

        return fsspec.core.url_to_fs(f"{self.remote}/{relative}")[1]

    def _check(self, project: str, *names: str) -> None:
        if (why := project_name_problem(project)) is not None:
            raise StorageError(f"project {project!r}: {why}")
        for name in names:
            if not _NAME.match(name):
                raise StorageError(f"{name!r} cannot be used in a file name")

    def take_files(self, project: str, shot: str, attempt: int) -> TakeFiles:
        """Where take ``attempt`` of ``shot`` lives: ``<project>/takes/<shot>/take-NNN.*``."""
        self._check(project, shot)
        return TakeFiles.of_video(f"{project}/takes/{shot}/take-{attempt:03d}.mp4")

    def anchor_file(self, project: str, character: str, digest: str) -> str:
        """Relative path of a character's anchor portrait: ``<project>/anchors/<character>-<sha12>.png``."""
        self._check(project, character)
        return f"{project}/anchors/{character}-{digest[:12]}.png"

    def still_file(self, project: str, kind: str, subject: str, role: str, attempt: int) -> str:
        """Relative path of a still: ``<project>/stills/<kind>/<subject>/<role>-NNN.png``
        (``@`` of a look's key and spaces of a view's name written as ``.`` and ``-``)."""
        subject, role = subject.replace("@", "."), re.sub(r"[^A-Za-z0-9_.-]+", "-", role).strip("-") or "view"
        self._check(project, kind, subject, role)
        return f"{project}/stills/{kind}/{subject}/{role}-{attempt:03d}.png"

    def cut_file(self, project: str, name: str) -> str:
        """Relative path of a cut file under ``<project>/cuts/``."""
        self._check(project, name)
        return f"{project}/cuts/{name}"

    def staging(self, project: str, owner: str = "shared") -> Path:
        """A private folder on the same filesystem for files being written by ``owner`` (a
        lease token): ``<project>/.staging/<owner>/``. Crash recovery removes only the folders
        of owners whose lease is gone."""
        self._check(project, owner)
        path = self.home / project / ".staging" / owner
        path.mkdir(parents=True, exist_ok=True)
        return path

    def local(self, relative: str) -> Path:
        """Where a stored file lives on this host; refuses paths that leave the home folder."""
        target = (self.home / relative).resolve()
        if not target.is_relative_to(self.home) or Path(relative).is_absolute():
            raise StorageError(f"{relative!r} is outside the media home {self.home}")
        return target

    def path(self, relative: str) -> Path:
        """A readable local path of a stored file, fetched from the remote store if needed."""
        target = self.local(relative)
        if self.remote and not target.is_file():
            fs = self._remote_fs()
            source = self._remote_path(relative)
            if fs.exists(source):
                target.parent.mkdir(parents=True, exist_ok=True)
                tmp = target.with_name(f".{target.name}.download")
                fs.get_file(source, str(tmp))
                os.replace(tmp, target)
        return target

    def put(self, source: Path, relative: str) -> str:
        """Move ``source`` to ``relative`` atomically (and upload it); returns its SHA-256."""
        target = self.local(relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        digest = sha256_file(source)
        try:
            os.replace(source, target)
        except OSError:  # another filesystem: copy beside the target, then rename
            tmp = target.with_name(f".{target.name}.incoming")
            shutil.copyfile(source, tmp)
            os.replace(tmp, target)
            Path(source).unlink(missing_ok=True)
        if self.remote:
            fs = self._remote_fs()
            destination = self._remote_path(relative)
            fs.makedirs(destination.rsplit("/", 1)[0], exist_ok=True)
            fs.put_file(str(target), destination)
        return digest

    def verify(self, relative: str | None, sha256: str | None) -> FileState:
        """Whether a stored file is still there and unchanged."""
        if not relative:
            return "missing"
        target = self.path(relative)
        if not target.is_file():
            return "missing"
        if sha256 and sha256_file(target) != sha256:
            return "changed"
        return "ok"

    def checked_path(self, relative: str | None, sha256: str | None, what: str) -> Path:
        """The path of a stored file that must be there unchanged (``what`` names it in the error).

        Raises:
            StorageError: The file is missing or its content changed since it was stored.
        """
        state = self.verify(relative, sha256)
        if state != "ok":
            raise StorageError(f"{what} is {state} in the artifact store ({self.local(relative or '')}); re-render that shot")
        return self.path(relative or "")

    def drop_staging(self, project: str, owner: str) -> None:
        """Remove ``owner``'s staging folder when its work is over (it holds no finished file)."""
        self._check(project, owner)
        folder = self.home / project / ".staging" / owner
        if folder.is_dir() and not folder.is_symlink():
            shutil.rmtree(folder, ignore_errors=True)
        with contextlib.suppress(OSError):
            folder.parent.rmdir()  # only when empty

    def clean_staging(self, project: str, live: set[str] = frozenset()) -> int:
        """Remove leftovers of interrupted writes of owners not in ``live`` (lease tokens);
        returns how many files went. A live render's files are never touched."""
        self._check(project)
        folder = self.home / project / ".staging"
        if not folder.is_dir():
            return 0
        count = 0
        for entry in folder.iterdir():
            if entry.name in live:
                continue
            if entry.is_dir() and not entry.is_symlink():
                count += sum(1 for p in entry.rglob("*") if p.is_file())
                shutil.rmtree(entry, ignore_errors=True)
            else:
                count += 1
                entry.unlink(missing_ok=True)
        return count
