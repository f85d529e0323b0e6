"""GPU concurrency slots: how many renders may run at once on one device.

In a process, `production.slots.local_slot` bounds renders across threads (chains render
concurrently). For CUDA devices a Prefect global concurrency limit named after the host and
device bounds them across processes too (several workers sharing one GPU). Prefect's
``concurrency()`` silently does nothing for a limit that does not exist, so the limit is
created first.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

from production.slots import local_slot

_CREATED: set[str] = set()
_GUARD = threading.Lock()


def limit_name(device: str) -> str:
    """The Prefect limit guarding ``device`` on this host."""
    return f"storyreel-gpu-{socket.gethostname()}-{device.replace(':', '-')}"


def ensure_limit(name: str, slots: int) -> None:
    """Create the global concurrency limit ``name`` with ``slots`` if it does not exist."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    with _GUARD:
        if name in _CREATED:
            return
        with get_client(sync_client=True) as client:
            try:
                client.read_global_concurrency_limit_by_name(name)
            except ObjectNotFound:
                try:
                    client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=slots))
                except ObjectAlreadyExists:
                    pass
        _CREATED.add(name)


@contextlib.contextmanager
def gpu_slot(device: str, slots: int = 1, across_processes: bool | None = None) -> Iterator[None]:
    """Hold one render slot of ``device`` for the duration of the block.

    Args:
        across_processes: Also take the Prefect limit (default: for CUDA devices).
    """
    shared = device.startswith("cuda") if across_processes is None else across_processes
    with local_slot(device, slots):
        if not shared:
            yield
            return
        from prefect.concurrency.sync import concurrency

        name = limit_name(device)
        ensure_limit(name, slots)
        with concurrency(name, occupy=1, strict=True):
            yield
