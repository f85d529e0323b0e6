"""Rendering on long-lived task workers that keep the model loaded between shots.

``storyreel worker`` serves `render_shot_task`; a flow run with workers enabled submits each
shot with ``.delay()`` and waits for its result, so chains spread across every running worker.
When no worker is running the flow renders in its own process. Results are persisted to
Prefect result storage that the flow and all workers reach: the local default, or any fsspec
URL (``STORYREEL_RESULTS=s3://bucket/prefix``); media and the database must be shared too
(a common ``--home`` mount and a PostgreSQL URL).
"""

from __future__ import annotations

from typing import Any

from prefect import Task

from production.context import RenderJob
from production.work import worker_id
from shots.errors import ConfigError

RESULTS_BLOCK = "storyreel-results"


def result_storage(url: str | None) -> Any:
    """A saved result-storage block for ``url`` (None: Prefect's local default).

    ``/path`` and ``file:///path`` are local folders (a shared mount); ``s3://…``, ``gs://…``
    and other fsspec URLs are remote.
    """
    if not url:
        return None
    from urllib.parse import urlsplit

    from prefect.filesystems import LocalFileSystem, RemoteFileSystem
    from pydantic import ValidationError

    parts = urlsplit(url)
    try:
        if parts.scheme in ("", "file"):
            block: Any = LocalFileSystem(basepath=parts.path if parts.scheme else url)
        else:
            block = RemoteFileSystem(basepath=url)
    except ValidationError as exc:
        raise ConfigError(f"STORYREEL_RESULTS={url!r} is not usable: {exc.errors()[0]['msg']}") from None
    block.save(RESULTS_BLOCK, overwrite=True)
    return type(block).load(RESULTS_BLOCK)


def remote_task(task: Task, results_url: str | None) -> Task:
    """``task`` with persisted results, as the flow and the workers must both use it."""
    return task.with_options(persist_result=True, result_storage=result_storage(results_url))


def workers_running(task: Task, wait: float = 0.0) -> int:
    """How many task workers serve ``task`` (0 without a server), waiting up to ``wait``
    seconds for the first to register — a worker is registered once it is subscribed, so a
    render started together with its workers does not fall back to rendering alone."""
    import time

    from prefect.client.orchestration import get_client

    deadline = time.monotonic() + wait
    try:
        with get_client(sync_client=True) as client:
            while True:
                response = client.request("POST", "/task_workers/filter", json={"task_worker_filter": {"task_keys": [task.task_key]}})
                if (count := len(response.json())) or time.monotonic() >= deadline:
                    return count
                time.sleep(0.5)
    except Exception:  # no API, an old server: treat as no workers
        return 0


def render_remote(task: Task, job: RenderJob, key: str, directive: Any = None) -> dict[str, Any]:
    """Submit one shot to the workers and wait for its result."""
    future = task.delay(job, key, directive)
    return future.result()
