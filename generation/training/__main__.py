"""Train every embedded demo model, resuming where a previous run stopped, then install them.

    python -m generation.training --out build/demo-models --install generation/weights

Stages whose result folder already exists are skipped; a stage interrupted mid-way resumes from
its last checkpoint. ``--install`` copies the finished models to where ``model: tiny`` and the
default scorer load them from, and prints their sizes.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from generation.training import clip, vae, video
from generation.training.common import THREADS_HELP, log

STAGES = ("vae", "video", "clip")
INSTALLED = ("tiny-wan-i2v", "tiny-clip")


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def install(out: Path, target: Path) -> None:
    """Copy the trained pipeline and scorer into ``target`` (replacing what is there)."""
    target.mkdir(parents=True, exist_ok=True)
    for name in INSTALLED:
        staging = target / f".{name}.partial"
        if staging.exists():
            shutil.rmtree(staging)
        shutil.copytree(out / name, staging)
        if (target / name).exists():
            shutil.rmtree(target / name)
        staging.rename(target / name)
        log(f"installed {target / name}", MB=folder_size(target / name) / 1e6)
    log("installed total", MB=sum(folder_size(target / n) for n in INSTALLED) / 1e6)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("build/demo-models"))
    parser.add_argument("--install", type=Path, default=None, help="copy the results here (generation/weights)")
    parser.add_argument("--stages", default=",".join(STAGES), help="comma-separated subset of vae,video,clip")
    parser.add_argument("--threads", type=int, default=None, help=THREADS_HELP)
    args = parser.parse_args(argv)
    stages = [s for s in args.stages.split(",") if s]
    unknown = sorted(set(stages) - set(STAGES))
    if unknown:
        parser.error(f"unknown stage(s) {', '.join(unknown)}; choose from {', '.join(STAGES)}")
    done = {"vae": args.out / "vae", "video": args.out / "tiny-wan-i2v", "clip": args.out / "tiny-clip"}
    train = {"vae": vae.train, "video": video.train, "clip": clip.train}
    for stage in STAGES:
        if stage not in stages:
            continue
        if done[stage].is_dir():
            log(f"{stage}: {done[stage]} exists, skipped (delete it to train again)")
            continue
        started = time.monotonic()
        train[stage](args.out, threads=args.threads)
        log(f"{stage}: done", minutes=(time.monotonic() - started) / 60)
    if args.install:
        install(args.out, args.install)


if __name__ == "__main__":
    main()
