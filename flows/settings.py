"""Environment-level settings: the one place that reads environment variables."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from production.config import DEFAULT_LEASE_SECONDS, TINY_DIR_NAME, AppSettings, default_database_url

if TYPE_CHECKING:
    from production.context import RenderJob

__all__ = ["AppSettings", "TINY_DIR_NAME", "allowed_hosts_env", "default_database_url", "env_seconds", "lease_seconds",
           "job_settings", "load_settings", "prefect_api_url", "reviewer_name", "worker_home", "worker_wait", "workers_by_default"]

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
        lease_seconds=lease_seconds(),
    )


def job_settings(job: RenderJob) -> AppSettings:
    """The settings a job renders with in this process: a worker's own home (it caches media
    there; the store URL links the hosts) or the job's, and the job's database."""
    return load_settings(worker_home() or job.home, job.database_url)


def env_seconds(name: str, default: float, least: float = 0.0) -> float:
    """A number of seconds from the environment variable ``name``: at least ``least``,
    ``default`` when it is unset or not a number."""
    try:
        return max(least, float(os.environ.get(name, default)))
    except ValueError:
        return default


def lease_seconds() -> float:
    """How long a lease lasts without a heartbeat (``STORYREEL_LEASE_SECONDS``, default 60)."""
    return env_seconds("STORYREEL_LEASE_SECONDS", DEFAULT_LEASE_SECONDS, least=1.0)


def worker_wait() -> float:
    """Seconds `render --workers` waits for a worker to register before rendering in its own
    process (``STORYREEL_WORKER_WAIT``, default 10)."""
    return env_seconds("STORYREEL_WORKER_WAIT", 10.0)


def reviewer_name() -> str:
    """Who reviews when no name is given: ``STORYREEL_REVIEWER``, else the login name (never empty)."""
    import getpass

    named = os.environ.get("STORYREEL_REVIEWER", "").strip()
    if named:
        return named[:128]
    try:
        return getpass.getuser()[:128] or "reviewer"
    except (OSError, KeyError):  # no login name in this environment (a bare container)
        return "reviewer"


def worker_home() -> str | None:
    """The home a `storyreel worker` was started with; it overrides a job's home in that process."""
    return os.environ.get("STORYREEL_WORKER_HOME")


def prefect_api_url() -> str | None:
    """The Prefect API the CLI talks to (``PREFECT_API_URL``), None when none is set."""
    return os.environ.get("PREFECT_API_URL") or None


def workers_by_default() -> bool:
    """Whether renders send their shots to task workers unless told (``STORYREEL_WORKERS=1``)."""
    return os.environ.get("STORYREEL_WORKERS") == "1"


def allowed_hosts_env() -> list[str]:
    """More Host names the media server answers to (``STORYREEL_ALLOW_HOSTS``, comma-separated)."""
    return [h.strip() for h in os.environ.get("STORYREEL_ALLOW_HOSTS", "").split(",") if h.strip()]
