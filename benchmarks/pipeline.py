"""Per-shot orchestration overhead of the render flow on the demo storyboard.

    python benchmarks/pipeline.py

Overhead per shot = (flow wall time − Σ model and encode seconds of every take) / shots,
measured on a warm Prefect API (the test harness) and a warm model, each run in a fresh home;
one warm-up run, then ``--runs`` measured runs (median and range printed).
Target: ≤ 250 ms per shot on CPU.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


def main() -> None:
    import argparse
    import statistics

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    from prefect.testing.utilities import prefect_test_harness

    from production.context import RenderJob
    from flows.render_flow import render_flow
    from production.store import transaction
    from generation.tiny import make_tiny
    from storage.db import open_database
    from storage.repo import get_project, live_shots

    demo = ROOT / "projects" / "demo" / "storyboard.yaml"
    with tempfile.TemporaryDirectory() as tmp, prefect_test_harness(server_startup_timeout=60):
        models = Path(tmp) / "models"
        make_tiny(models / "tiny-wan-i2v", "wan")
        figures = []
        for run in range(args.runs + 1):  # run 0 warms the model, the scorer and the API
            home = Path(tmp) / f"home{run}"
            home.mkdir()
            shutil.copytree(models, home / "models")
            url = f"sqlite:///{home / 'storyreel.db'}"
            job = RenderJob(storyboard=str(demo), project="demo", home=str(home), database_url=url)
            start = time.perf_counter()
            render_flow(job)
            wall = time.perf_counter() - start
            with transaction(open_database(url)) as s:
                takes = [t for shot in live_shots(s, get_project(s, "demo")) for t in shot.takes]
            work = sum(sum(v for k, v in t.timings.items() if k != "load") for t in takes)
            figures.append((wall, work, len(takes)))
        shots = 5
        per_shot = sorted((wall - work) / shots * 1000 for wall, work, _ in figures[1:])
        for wall, work, count in figures[1:]:
            print(f"# demo storyboard: {shots} shots, {count} takes; flow wall {wall:.2f} s, model+encode {work:.2f} s")
        print(f"orchestration overhead per shot: median {statistics.median(per_shot):.0f} ms "
              f"(range {per_shot[0]:.0f}–{per_shot[-1]:.0f} ms over {len(per_shot)} runs; target ≤ 250)")


if __name__ == "__main__":
    main()
