"""Faults of the machine, not of storyreel: one clear line and exit 1, fast, never a traceback."""

from __future__ import annotations

import os
import resource
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli


def _one_line(code: int, out: str, err: str) -> str:
    assert code == 1, err
    assert "Traceback" not in out + err
    assert err.startswith("Error: ") and err.count("\n") == 1, err
    return err


@pytest.mark.parametrize("command", ["status demo", "projects", "export demo", "approve demo s01"])
def test_a_corrupt_sqlite_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "storyreel.db").write_bytes(b"this is not a database, it was overwritten " * 20)
    monkeypatch.delenv("STORYREEL_DATABASE_URL", raising=False)
    err = _one_line(*run_cli(*command.split(), "--home", str(home)))
    assert "file is not a database" in err


def test_a_read_only_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, write) -> None:
    board = write("film/storyboard.yaml", "title: t\nshots:\n  - {id: s01, prompt: a red circle moves right on a black background}\n")
    home = tmp_path / "home"
    code, _, err = run_cli("submit", str(board), "--home", str(home))
    assert code == 0, err
    monkeypatch.setenv("STORYREEL_DATABASE_URL", f"sqlite:///file:{home / 'storyreel.db'}?mode=ro&uri=true")
    before = (home / "storyreel.db").read_bytes()
    board.write_text(board.read_text().replace("moves right", "moves left"))
    err = _one_line(*run_cli("submit", str(board), "--home", str(home)))
    assert "readonly database" in err
    assert (home / "storyreel.db").read_bytes() == before  # nothing stored is lost or corrupted


def test_an_unreachable_database_server_fails_in_seconds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A server that accepts the connection and never answers (the slow case: a refused port
    fails at once anyway)."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(0)
    try:
        monkeypatch.setenv("STORYREEL_DATABASE_URL", f"postgresql://nobody@127.0.0.1:{silent.getsockname()[1]}/none")
        start = time.monotonic()
        err = _one_line(*run_cli("projects", "--home", str(tmp_path)))
        assert time.monotonic() - start < 15
        assert "cannot connect to database" in err and "timeout" in err
    finally:
        silent.close()


def _small_disk() -> None:
    """In the child: files may not grow past 64 KiB (as if the disk filled up)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))


def test_a_full_disk_while_writing_the_database(tmp_path: Path, write) -> None:
    shots = "".join(f"  - {{id: s{i:04d}, prompt: a red circle moves right on a black background number {i}}}\n" for i in range(600))
    board = write("film/storyboard.yaml", "title: t\nshots:\n" + shots)
    env = {**os.environ, "STORYREEL_HOME": str(tmp_path / "home"), "HF_HUB_OFFLINE": "1"}
    env.pop("STORYREEL_DATABASE_URL", None)
    proc = subprocess.run([sys.executable, "-m", "flows.cli", "submit", str(board)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, preexec_fn=_small_disk)
    err = _one_line(proc.returncode, proc.stdout, proc.stderr)
    assert any(word in err for word in ("full", "too large", "disk I/O error"))
