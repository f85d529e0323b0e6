"""What pre-production costs and saves: a still against a video take, and the seconds a shot the
director rejects costs with and without approving its keyframe first.

    python benchmarks/stills.py [--runs 5]

1. A start keyframe drawn warm (median of ``--runs``): by the demo world (``model: tiny``) and
   by a tiny random PixArt-α pipeline (``t2i_model``, 64×64, loaded from its folder once).
2. Video takes: README's pre-production commands on ``projects/previs`` in a fresh home
   (`keyframes`, approve red's sheet and p01's keyframe, `render --pass draft`, `render --pass
   final`), each take's stored phase timings (model calls, decode, encode; not the process).
3. A shot rejected once, in seconds of model time: straight to video it costs two final takes
   (the rejected one and the next); with the keyframe stage the rejection falls on a still
   (two stills, one final take); with a draft pass as well, on a draft (two drafts, one final).

On a GPU the same arithmetic holds with its own figures (a 480p Wan 2.1 take is minutes, a
PixArt still seconds); the GPU rows are not measured here.
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
sys.path.insert(0, str(ROOT))


def storyreel(*args: str) -> list[str]:
    exe = ROOT / ".venv" / "bin" / "storyreel"
    return [str(exe), *args] if exe.exists() else [sys.executable, "-m", "flows.cli", *args]


def still_seconds(t2i: str, runs: int) -> float:
    from generation.stills import draw_keyframe

    prompt, action = "a red circle. a red circle moves right on a black background.", "a red circle moves right on a black background"
    draw_keyframe(t2i, prompt, action, 64, 64, 0)  # warm: the pipeline is loaded once per process
    times = []
    for seed in range(1, runs + 1):
        start = time.perf_counter()
        draw_keyframe(t2i, prompt, action, 64, 64, seed)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def take_seconds(home: Path, project: str) -> list[float]:
    from sqlalchemy import select

    from production.store import transaction
    from storage.db import open_database
    from storage.repo import get_project
    from storage.schema import Shot, Take

    with transaction(open_database(f"sqlite:///{home / 'storyreel.db'}")) as session:
        record = get_project(session, project)
        takes = session.scalars(select(Take).join(Shot, Take.shot_id == Shot.id).where(Shot.project_id == record.id))
        return [sum(v for k, v in (t.timings or {}).items() if k != "load") for t in takes if t.status == "scored"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    from generation.tiny import make_tiny
    from shots.families import WORLD_T2I

    with tempfile.TemporaryDirectory() as tmp:
        pixart = make_tiny(Path(tmp) / "pixart", "pixart")
        world, tiny_pixart = still_seconds(WORLD_T2I, args.runs), still_seconds(str(pixart), args.runs)
        folder = Path(tmp) / "previs"
        shutil.copytree(ROOT / "projects" / "previs", folder)
        board = str(folder / "storyboard.yaml")
        home = Path(tmp) / "home"
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "STORYREEL_HOME": str(home)}
        for name in ("STORYREEL_DATABASE_URL", "PREFECT_API_URL"):
            env.pop(name, None)
        for command in (["keyframes", board], ["approve-sheet", "previs", "red"], ["approve-keyframe", "previs", "p01"],
                        ["render", board, "--pass", "draft", "--no-review"], ["render", board, "--pass", "final", "--no-review"]):
            subprocess.run(storyreel(*command), env=env, check=True, capture_output=True)
        draft, final = statistics.median(take_seconds(home, "previs.draft")), statistics.median(take_seconds(home, "previs"))
    print("| what (CPU, 2 cores) | seconds |")
    print("|---|---|")
    print(f"| a start keyframe, demo world (model: tiny) | {world:.4f} |")
    print(f"| a start keyframe, tiny PixArt-α 64×64 | {tiny_pixart:.3f} |")
    print(f"| a draft take, previs (8 steps, 9 frames, 64×64) | {draft:.3f} |")
    print(f"| a final take, previs (20 steps) | {final:.3f} |")
    print()
    print("| a shot rejected once, model seconds | world stills | tiny PixArt stills |")
    print("|---|---|---|")
    print(f"| straight to video: 2 final takes | {2 * final:.2f} | {2 * final:.2f} |")
    print(f"| keyframe first: 2 stills + 1 final take | {2 * world + final:.2f} | {2 * tiny_pixart + final:.2f} |")
    print(f"| keyframe and draft: 1 still + 2 drafts + 1 final | {world + 2 * draft + final:.2f} | {tiny_pixart + 2 * draft + final:.2f} |")


if __name__ == "__main__":
    main()
