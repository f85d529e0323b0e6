"""Shared fixtures. Tests never reach a model hub."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "projects" / "demo" / "storyboard.yaml"
BENCHMARKS = ROOT / "benchmarks"


@pytest.fixture
def benchmark_module(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], object]:
    """Import a script of ``benchmarks/`` by name (e.g. ``"vae_quality"``), registered in
    ``sys.modules`` for the test only (dataclasses look their module up there)."""
    import importlib.util

    def load(name: str) -> object:
        spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        monkeypatch.setitem(sys.modules, name, module)
        spec.loader.exec_module(module)
        return module

    return load


def run_benchmark(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``python benchmarks/<script> ARGS`` offline, as a user runs it."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, str(BENCHMARKS / script), *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``gpu`` run only where CUDA is available."""
    try:
        import torch

        cuda = torch.cuda.is_available()
    except ImportError:
        cuda = False
    if cuda:
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str | bytes], Path]:
    """Write a file under tmp_path and return its path."""

    def _write(name: str, content: str | bytes) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    return _write


def run_cli(*args: str) -> tuple[int, str, str]:
    """Run the real console-script entry point in-process; returns (exit code, stdout, stderr)."""
    import io
    from contextlib import redirect_stderr, redirect_stdout

    from flows import cli

    out, err = io.StringIO(), io.StringIO()
    old_argv = sys.argv
    sys.argv = ["storyreel", *args]
    code = 0
    consoles = (cli.console, cli.err_console)
    saved = [c.file for c in consoles]
    cli.console.file, cli.err_console.file = out, err
    try:
        with redirect_stdout(out), redirect_stderr(err):
            cli.main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = old_argv
        cli.console.file, cli.err_console.file = saved
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One tiny random pipeline per family, saved to disk once per test session."""
    from generation.tiny import make_tiny

    root = tmp_path_factory.mktemp("models")
    return {family: make_tiny(root / family, family) for family in ("wan", "wan22", "wan22_ti2v", "ltx", "cogvideox")}


PG_BASE = os.environ.get("STORYREEL_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _pg_available() -> bool:
    import sqlalchemy as sa

    try:
        with sa.create_engine(PG_BASE).connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        return True
    except Exception:
        return False


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> object:
    """A fresh, empty database: SQLite in tmp_path, or a private schema on the Postgres server.

    Postgres that cannot be reached skips locally and fails in CI (CI=true).
    """
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'storyreel.db'}"
        return
    if not _pg_available():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL at {PG_BASE} is not reachable; CI needs it")
        pytest.skip("PostgreSQL at 127.0.0.1:5432 is not reachable")
    import uuid

    import sqlalchemy as sa

    schema = f"sr_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_BASE, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        yield f"{PG_BASE}?options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


@pytest.fixture(scope="session")
def tiny_clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random tiny open_clip scorer saved as a local-dir: folder once per session."""
    from consistency.embedder import make_tiny_clip

    return make_tiny_clip(tmp_path_factory.mktemp("clip") / "tiny-clip")


@pytest.fixture(scope="session")
def tiny_clip(tiny_clip_dir: Path) -> object:
    """The random tiny open_clip scorer, loaded through local-dir:."""
    from consistency.embedder import load_embedder

    return load_embedder(f"local-dir:{tiny_clip_dir}")


@pytest.fixture(scope="session")
def prefect_harness(tmp_path_factory: pytest.TempPathFactory) -> object:
    """One real Prefect API (test harness) for the whole session, with its own storage."""
    from prefect.settings import (
        PREFECT_LOGGING_LEVEL,
        PREFECT_RESULTS_PERSIST_BY_DEFAULT,
        temporary_settings,
    )
    from prefect.testing.utilities import prefect_test_harness

    with temporary_settings({PREFECT_LOGGING_LEVEL: "WARNING", PREFECT_RESULTS_PERSIST_BY_DEFAULT: False}):
        with prefect_test_harness(server_startup_timeout=60):
            yield


@pytest.fixture
def demo_home(tmp_path: Path, tiny_models: dict[str, Path], tiny_clip_dir: Path) -> Path:
    """A home whose ``model: tiny`` and ``scorer: tiny`` are the session's random ones (they
    override the committed trained models: fast, and scores that mean nothing, on purpose)."""
    import shutil

    home = tmp_path / "home"
    (home / "models").mkdir(parents=True)
    shutil.copytree(tiny_models["wan"], home / "models" / "tiny-wan-i2v")
    shutil.copytree(tiny_clip_dir, home / "models" / "tiny-clip")
    return home


FILM_BOARD = """\
title: End to end
settings:
  model: tiny
  width: 32
  height: 32
  fps: 16
  steps: 2
  seed: 1
  max_takes: 2
  audio: bed.wav
  thresholds: {prompt: null, color_drift: null, boundary: null, identity: null, temporal: null, motion: null}
characters:
  red: {description: a red circle}
scenes:
  - id: one
    shots:
      - {id: a, prompt: a red circle moves right, characters: [red], duration: 1, transition: {crossfade: 0.25}}
      - {id: b, prompt: a red circle grows, duration: 1, thresholds: {flicker: 1.01}}
  - id: two
    shots:
      - {id: c, prompt: a blue square, duration: 0.5}
"""


def _wav(path: Path, seconds: float = 1.0) -> None:
    """A sine tone as a WAV file (an audio bed)."""
    import wave

    import numpy as np

    rate = 8000
    data = (np.sin(np.arange(int(seconds * rate)) / rate * 2 * np.pi * 330) * 9000).astype(np.int16)
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(data.tobytes())


@pytest.fixture
def film(tmp_path: Path, demo_home: Path) -> dict:
    """A 3-shot storyboard with a crossfade and an audio bed, and a job to render it."""
    from production.context import RenderJob
    from flows.settings import load_settings

    folder = tmp_path / "film"
    folder.mkdir()
    (folder / "storyboard.yaml").write_text(FILM_BOARD)
    _wav(folder / "bed.wav")
    url = f"sqlite:///{demo_home / 'storyreel.db'}"
    job = RenderJob(storyboard=str(folder / "storyboard.yaml"), project="film", home=str(demo_home), database_url=url)
    return {"job": job, "settings": load_settings(demo_home, url), "folder": folder, "home": demo_home, "url": url}




@pytest.fixture(scope="session")
def prompt_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny chat LM made the way a user would: ``storyreel models make-tiny DIR --family
    prompt_lm --random`` (prompt expansion and the breakdown model)."""
    folder = tmp_path_factory.mktemp("prompt-model") / "lm"
    code, out, err = run_cli("models", "make-tiny", str(folder), "--family", "prompt_lm", "--random")
    assert code == 0 and (folder / "config.json").is_file() and (folder / "tokenizer.json").is_file(), out + err
    return folder
