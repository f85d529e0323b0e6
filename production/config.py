"""storyreel's settings as a value: where things are kept and how this process renders.

`flows.settings.load_settings` fills one from arguments and the environment; everything
below `flows/` takes it (or parts of it) as a plain argument.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from shots.errors import StorageError
from shots.families import TINY_MODEL
from storage.artifacts import ArtifactStore

if TYPE_CHECKING:
    from sqlalchemy import Engine

DEFAULT_LEASE_SECONDS = 60.0
"""How long a lease lasts without a heartbeat (``STORYREEL_LEASE_SECONDS``)."""

TINY_DIR_NAME = "tiny-wan-i2v"

DRAFT_SUFFIX = ".draft"
"""A draft pass's project is its film's name with this (`production.passes`)."""


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
        lease_seconds: How long a lease lasts without a heartbeat (``STORYREEL_LEASE_SECONDS``).
    """

    home: Path
    database_url: str
    media_url: str | None = None
    device: str | None = None
    results_url: str | None = None
    store_url: str | None = None
    lease_seconds: float = DEFAULT_LEASE_SECONDS

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
