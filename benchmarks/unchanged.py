"""Whole-process time of an unchanged `storyreel render` against `storyreel validate`.

    python benchmarks/unchanged.py [--runs 5]

Renders the demo storyboard once into a fresh home (the embedded models), then times, as a
user runs them, `storyreel validate` and `storyreel render` of the same unchanged file: the
render checks the project (submission, lost takes, crashed runs) and reports the current cut,
starting no Prefect server and writing no new cut. Medians of ``--runs``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def storyreel(*args: str) -> list[str]:
    exe = ROOT / ".venv" / "bin" / "storyreel"
    return [str(exe), *args] if exe.exists() else [sys.executable, "-m", "flows.cli", *args]


def timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "demo"
        shutil.copytree(ROOT / "projects" / "demo", folder, ignore=shutil.ignore_patterns("cuts", "takes", ".staging"))
        board = str(folder / "storyboard.yaml")
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "STORYREEL_HOME": str(Path(tmp) / "home")}
        env.pop("STORYREEL_DATABASE_URL", None)
        env.pop("PREFECT_API_URL", None)
        first = timed(storyreel("render", board, "--no-review"), env)
        validate = [timed(storyreel("validate", board), env) for _ in range(args.runs)]
        render = [timed(storyreel("render", board, "--no-review"), env) for _ in range(args.runs)]
    v, r = statistics.median(validate), statistics.median(render)
    print(f"| command (demo storyboard, median of {args.runs}) | seconds |")
    print("|---|---|")
    print(f"| first `render` (renders 4 shots, starts Prefect) | {first:.2f} |")
    print(f"| `validate` | {v:.2f} |")
    print(f"| unchanged `render` (no Prefect, no new cut) | {r:.2f} |")
    print(f"| ratio render / validate | {r / v:.2f} |")


if __name__ == "__main__":
    main()
