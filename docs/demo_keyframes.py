"""Draw the demo's two keyframes (projects/demo/keyframes) with the world generator.

    .venv/bin/python docs/demo_keyframes.py [--out projects/demo/keyframes]

The layouts keep to what the embedded model does well (benchmarks/README.md, (e)): the first
scene on black, where a red circle keeps its colour as it moves and grows; the second on yellow
(on white the blue square takes on red and shrinks) with the two shapes 0.6 of the frame apart
and 0.25 wide, so that after meeting (each moves 0.15 toward the other) they still stand apart
and can move off together — shapes that end the meeting touching merge in the next shot.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from generation.encode import save_png  # noqa: E402
from generation.world import Actor, draw_frame  # noqa: E402

KEYFRAMES = {
    "arrival.png": ((Actor("circle", "red", x=0.2, y=0.5),), "black"),
    "meeting.png": (
        (Actor("circle", "red", x=0.2, y=0.6, size=0.25), Actor("square", "blue", x=0.8, y=0.6, size=0.25)),
        "yellow",
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "projects/demo/keyframes")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, (actors, background) in KEYFRAMES.items():
        save_png(draw_frame(actors, background), args.out / name)
        print(args.out / name)


if __name__ == "__main__":
    main()
