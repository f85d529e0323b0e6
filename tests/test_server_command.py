"""`storyreel server` starts a real Prefect server and the media server on loopback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""
    except OSError:
        return 0, b""


def test_server_runs_prefect_and_media(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "film" / "takes" / "a").mkdir(parents=True)
    (home / "film" / "takes" / "a" / "take-001.sheet.png").write_bytes(b"\x89PNG sheet")
    port, media = _free_port(), _free_port()
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{tmp_path / 'prefect.db'}"}
    env.pop("PREFECT_API_URL", None)
    cmd = [sys.executable, "-m", "flows.cli", "server", "--home", str(home), "--port", str(port), "--media-port", str(media)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        end = time.monotonic() + 90
        while time.monotonic() < end and _get(f"http://127.0.0.1:{port}/api/health")[0] != 200:
            assert proc.poll() is None, proc.stdout.read().decode()[-2000:]
            time.sleep(0.5)
        assert _get(f"http://127.0.0.1:{port}/api/health")[0] == 200
        assert _get(f"http://127.0.0.1:{media}/film/takes/a/take-001.sheet.png") == (200, b"\x89PNG sheet")
        assert _get(f"http://127.0.0.1:{media}/../etc/passwd")[0] == 404
        # the review pages answer on the same port (an unknown project: a page saying so)
        assert _get(f"http://127.0.0.1:{media}/review/nothing")[0] == 404
        assert _get(f"http://localhost:{media}/film/takes/a/take-001.sheet.png")[0] == 200
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(60)
    assert _get(f"http://127.0.0.1:{port}/api/health")[0] == 0  # stopped
