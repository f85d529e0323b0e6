"""Write docs/demo-strip.png: evenly spaced frames of the demo's latest cut, for the README.

    .venv/bin/python docs/demo_strip.py [--home projects] [--project demo]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from generation.encode import contact_sheet, read_video, save_png  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=Path("projects"))
    parser.add_argument("--project", default="demo")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "demo-strip.png")
    args = parser.parse_args()
    cuts = sorted((args.home / args.project / "cuts").glob("cut-*.mp4"))
    if not cuts:
        sys.exit(f"no cut in {args.home / args.project / 'cuts'}: run make demo first")
    frames = read_video(cuts[-1])
    sheet = contact_sheet(frames, f"{cuts[-1].name}: every ~{len(frames) // 16} frames", cells=16, columns=8, min_cell=96)
    save_png(sheet, args.out)
    print(args.out)


if __name__ == "__main__":
    main()
