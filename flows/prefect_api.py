"""A Prefect API for one command: the user's (``PREFECT_API_URL``), else one storyreel starts.

Prefect's own ephemeral server is started by the client when a flow runs and left to an
``atexit`` hook: a killed CLI orphans it, and a slow start ends in a long traceback. storyreel
starts the same server (uvicorn on Prefect's app, UI off) itself instead: in its own session
(a Ctrl-C in the terminal does not reach it), tied to this process (Linux ``PR_SET_PDEATHSIG``:
it dies with the CLI, even one killed with SIGKILL), stopped on the way out, and a start that
fails or takes too long is one clear line.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from shots.errors import StoryreelError

DEFAULT_START_SECONDS = 120.0
"""A first start migrates Prefect's database: past 20 s on 2 CPU cores."""


class PrefectStartError(StoryreelError):
    """Prefect's API could not be started or reached."""


def _die_with_parent() -> None:  # runs in the child before exec
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalServer:
    """Prefect's API server (no UI) on a free loopback port, owned by this process."""

    def __init__(self, start_seconds: float) -> None:
        self.port = _free_port()
        self.start_seconds = start_seconds
        self.log = Path(tempfile.mkstemp(prefix="storyreel-prefect-", suffix=".log")[1])
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def start(self) -> None:
        import prefect

        env = {**os.environ, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}
        env.pop("PREFECT_API_URL", None)
        argv = [sys.executable, "-m", "uvicorn", "--app-dir", str(Path(prefect.__file__).parent.parent), "--factory",
                "prefect.server.api.server:create_app", "--host", "127.0.0.1", "--port", str(self.port),
                "--log-level", "error", "--lifespan", "on"]
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            start_new_session=True, preexec_fn=_die_with_parent)
        self._wait_healthy()

    def _wait_healthy(self) -> None:
        import httpx

        from production.stop import check

        deadline = time.monotonic() + self.start_seconds
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                check()
                if self.process is not None and self.process.poll() is not None:
                    self.stop()
                    raise PrefectStartError(
                        f"Prefect's API server exited with code {self.process.returncode} while starting "
                        f"(its log: {self.log}); start one with `storyreel server` and set PREFECT_API_URL"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(f"{self.api_url}/health").status_code == 200:
                        return
                time.sleep(0.2)
        self.stop()
        raise PrefectStartError(
            f"Prefect's API server did not start within {self.start_seconds:.0f} s (its log: {self.log}); "
            "set PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS higher, or start one with `storyreel server` "
            "and set PREFECT_API_URL"
        )

    def stop(self) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def start_seconds() -> float:
    """How long to wait for the server (``PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS``)."""
    try:
        return float(os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", DEFAULT_START_SECONDS))
    except ValueError:
        return DEFAULT_START_SECONDS


_OWN: str | None = None  # the API URL of the server `prefect_api` started, while it runs


def ui_url() -> str | None:
    """The Prefect UI a person can open for this process's API: None for storyreel's own
    server (it has no UI)."""
    from prefect.settings import PREFECT_API_URL, PREFECT_UI_URL

    api = PREFECT_API_URL.value()
    if not api or api == _OWN:
        return None
    return (PREFECT_UI_URL.value() or api.removesuffix("/").removesuffix("/api")).rstrip("/")


@contextlib.contextmanager
def prefect_api() -> Iterator[LocalServer | None]:
    """Run the block against a Prefect API: ``PREFECT_API_URL`` when set, else a server of ours
    (yielded, so a second Ctrl-C can stop it too), stopped when the block ends."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    if PREFECT_API_URL.value():  # the user's server (or a test harness's)
        yield None
        return

    global _OWN
    server = LocalServer(start_seconds())
    try:
        server.start()
    except BaseException:
        server.stop()
        raise  # the log stays for the user to read
    try:
        with temporary_settings({PREFECT_API_URL: server.api_url}):
            _OWN = server.api_url
            try:
                yield server
            finally:
                _drain_clients()
    finally:
        _OWN = None
        server.stop()
        server.log.unlink(missing_ok=True)


def _drain_clients(seconds: float = 10.0) -> None:
    """Send the logs and events Prefect still queues for this server before it stops (they
    would otherwise retry against a server that is gone, at exit, for a minute)."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for service in (APILogWorker, EventsWorker):
        with contextlib.suppress(Exception):
            service.drain_all(timeout=seconds, at_exit=False)
