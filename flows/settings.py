"""Environment-level settings: the one place that reads environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from typing import TYPE_CHECKING

from shots.errors import StorageError
from shots.families import TINY_MODEL
from storage.artifacts import ArtifactStore

if TYPE_CHECKING:
    from sqlalchemy import Engine

TINY_DIR_NAME = "tiny-wan-i2v"


@dataclass(frozen=True)
class AppSettings:
    """Where storyreel keeps things.

    Attributes:
        home: Projects, media and the default SQLite database (``STORYREEL_HOME``, ``--home``).
        database_url: Any SQLAlchemy URL (``STORYREEL_DATABASE_URL``); default SQLite in home.
        media_url: Base URL of the media server for review pages (``STORYREEL_MEDIA_URL``).
        device: Device override for this process, e.g. a worker's ``cuda:1`` (``STORYREEL_DEVICE``).
        results_url: fsspec URL for task results shared with workers (``STORYREEL_RESULTS``).
        store_url: fsspec URL where media live for every host (``STORYREEL_STORE``); the home
            folder is then a local cache.
    """

    home: Path
    database_url: str
    media_url: str | None = None
    device: str | None = None
    results_url: str | None = None
    store_url: str | None = None

    def database(self, create: bool = False) -> Engine:
        """The storyreel database, migrated. ``create`` makes it — and the home folder, for the
        default database — when missing (render, submit); otherwise a missing database is
        `NotFound` and nothing is written (read commands, reviews)."""
        from storage.db import open_database

        if create and self.database_url == default_database_url(self.home):
            try:
                self.home.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StorageError(f"cannot create the home folder {self.home}: {exc.strerror}") from None
        return open_database(self.database_url, create=create)

    def artifacts(self) -> ArtifactStore:
        """The artifact store: the home folder, backed by ``store_url`` when set."""
        return ArtifactStore(self.home, self.store_url)

    @property
    def models_dir(self) -> Path:
        """Where the embedded tiny model is built."""
        return self.home / "models"

    def resolve_model(self, model: str) -> str:
        """``tiny`` → ``<home>/models/tiny-wan-i2v`` when a model is saved there, else the
        committed trained demo model (see `generation.tiny.ensure_tiny`); else unchanged."""
        if model != TINY_MODEL:
            return model
        from generation.tiny import ensure_tiny

        return str(ensure_tiny(self.models_dir / TINY_DIR_NAME))

    def resolve_scorer(self, scorer: str) -> str:
        """``tiny`` → ``<home>/models/tiny-clip`` when a scorer is saved there, else the committed
        trained scorer, else a random one built there on first use; else unchanged."""
        if scorer != TINY_MODEL:
            return scorer
        from consistency.embedder import ensure_tiny_clip
        from generation.tiny import trained_scorer

        home_scorer = self.models_dir / "tiny-clip"
        trained = trained_scorer()
        if trained is not None and not home_scorer.is_dir():
            return f"local-dir:{trained}"
        return ensure_tiny_clip(home_scorer)


def default_database_url(home: Path) -> str:
    """The SQLite database every home has unless another is given."""
    return f"sqlite:///{home / 'storyreel.db'}"


def load_settings(home: Path | str | None = None, database_url: str | None = None) -> AppSettings:
    """Settings from arguments, then environment, then defaults (``./projects``, SQLite)."""
    root = Path(home or os.environ.get("STORYREEL_HOME") or "projects").expanduser().resolve()
    url = database_url or os.environ.get("STORYREEL_DATABASE_URL") or default_database_url(root)
    return AppSettings(
        home=root,
        database_url=url,
        media_url=os.environ.get("STORYREEL_MEDIA_URL"),
        device=os.environ.get("STORYREEL_DEVICE"),
        results_url=os.environ.get("STORYREEL_RESULTS"),
        store_url=os.environ.get("STORYREEL_STORE"),
    )


def env_seconds(name: str, default: float, least: float = 0.0) -> float:
    """A number of seconds from the environment variable ``name``: at least ``least``,
    ``default`` when it is unset or not a number."""
    try:
        return max(least, float(os.environ.get(name, default)))
    except ValueError:
        return default


def worker_wait() -> float:
    """Seconds `render --workers` waits for a worker to register before rendering in its own
    process (``STORYREEL_WORKER_WAIT``, default 10)."""
    return env_seconds("STORYREEL_WORKER_WAIT", 10.0)


def worker_home() -> str | None:
    """The home a `storyreel worker` was started with; it overrides a job's home in that process."""
    return os.environ.get("STORYREEL_WORKER_HOME")
