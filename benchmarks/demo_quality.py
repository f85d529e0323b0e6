"""Does the embedded demo model do what captions say? Figures on held-out captions and seeds.

    python benchmarks/demo_quality.py [--cases 40] [--chains 10] [--chain-seed N] [--pairs 40]
                                      [--pair-seed N] [--runs 30] [--storyboard FILE]
                                      [--measures abcde]
                                      [--steps 20] [--guidance 3] [--keyframe last]

(a) motion direction: a held-out caption ("a pink star moves up on a white background") from a
    world-drawn first frame; correct when the named colour's centroid moves the named way by at
    least 8 % of the frame, more along that axis than across it. Target ≥ 90 %. Printed beside
    it, its ceiling: the same check on the world's own clips after a VAE round trip.
(b) identity across a 3-shot chain (right, down, left; each shot starts from the previous
    take's hand-off frame, as `storyreel render` chains them): the named colour still covers at
    least half its first-frame area in every shot; the same check for each shot alone, rendered
    from a clean world frame where that shot starts (where the chain loses it); and storyreel's
    identity score (`consistency.identity`: regions against an anchor) of the third shot
    against the character anchored in the first frame, next to the same score for a
    wrong-identity clip.
(c) scorer ranking: the identity score of a correct continuation (the model's take from the
    right start frame) above a wrong-identity take (the model's take of another colour and
    shape on the same background and caption motion). Target ≥ 90 % of pairs.
(d) two shapes (the demo's second scene): held-out captions, half "… meet …" (each named
    colour's centroid moves toward the other by at least 4 % of the frame), half "… move
    up/down/left/right …" (both colours move that way, as in (a)); and whether both colours
    keep at least half of the area they have in the world's own clip, frame by frame. Printed
    beside them, the two motion checks on the world's own clips and the colour check on those
    clips after a VAE round trip (their ceilings: small stars and triangles lose colour there).
(e) the demo storyboard (or ``--storyboard``): its shots planned as `storyreel render` plans
    them (composed and negative prompts, per-shot guidance and seeds, keyframes) and chained
    through their hand-off frames, ``--runs`` times — run n renders the n-th take of every
    shot's seed schedule, so run 0 is the takes `make demo` renders first; for each shot, how
    often it does what its caption says (`shot_as_told`: moves, meets, grows or shrinks as told; every named
    colour keeps half its first frame's area throughout), and how often all shots of a run do.
    It renders with the storyboard's own steps and guidance, not ``--steps`` / ``--guidance``.

Models: the committed ``model: tiny`` pipeline and scorer (``generation/weights``), loaded with
``from_pretrained`` / open_clip ``local-dir:`` like real weights.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

from consistency.embedder import load_embedder  # noqa: E402
from consistency.identity import anchor_from_frame, identity_scores  # noqa: E402
from generation.frames import handoff_frame, load_image  # noqa: E402
from generation.loading import load_pipeline  # noqa: E402
from generation.tiny import trained_model, trained_scorer  # noqa: E402
from generation.training.quality import (  # noqa: E402
    DEMO_GUIDANCE,
    DEMO_KEYFRAME,
    chain_specs,
    chain_starts,
    coverage,
    keeps_colour,
    motion_accuracy,
    motion_cases,
    pair_accuracy,
    pair_cases,
    render,
    roundtrip_accuracy,
    shot_as_told,
)
from generation.world import COLORS, SHAPES, Actor, ClipSpec, draw_frame, parse_caption  # noqa: E402
from shots.errors import StoryreelError  # noqa: E402
from shots.graph import plan_storyboard, take_seed  # noqa: E402
from shots.loading import load_storyboard  # noqa: E402
from shots.models import Storyboard  # noqa: E402

DEMO = Path(__file__).resolve().parent.parent / "projects" / "demo" / "storyboard.yaml"


def wrong_identity(actor: Actor, background: str, rng: np.random.Generator) -> Actor:
    """The same place and size, another colour (not the background's) and another shape."""
    colors = [c for c in COLORS if c not in (actor.color, background)]
    shapes = [s for s in SHAPES if s != actor.shape]
    return replace(actor, color=str(rng.choice(colors)), shape=str(rng.choice(shapes)))


def caption(actor: Actor, motion: str, background: str) -> str:
    return ClipSpec((actor,), motion, background).caption() + "."


def identity(embedder, frames: np.ndarray, start: np.ndarray, description: str) -> float:  # type: ignore[no-untyped-def]
    """storyreel's identity of ``frames`` against the character anchored in ``start``."""
    anchor = anchor_from_frame(embedder, start, description)
    return identity_scores(embedder, frames, [anchor.embedding])[0]


def chains(
    loaded, embedder, count: int, steps: int, guidance: float, keyframe: str, seed: int = 2_000_003
) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    kept, right_ids, wrong_ids = [], [], []
    alone: list[list[bool]] = [[] for _ in range(3)]  # each shot from a clean frame where it starts
    for n in range(count):
        actor, background, motions = chain_specs(rng)
        starts = chain_starts(actor, background, motions)
        start = starts[0]
        first_area = coverage(start, actor.color)
        image, ok = start, True
        for k, (motion, clean_start) in enumerate(zip(motions, starts)):
            prompt, shot_seed = caption(actor, motion, background), seed + 10 * n + k
            clip = render(loaded, image, prompt, shot_seed, steps, guidance)
            ok &= keeps_colour(clip, actor.color, first_area)
            image = handoff_frame(clip, keyframe, 8)[1]
            clean = render(loaded, clean_start, prompt, shot_seed, steps, guidance)
            alone[k].append(keeps_colour(clean, actor.color, first_area))
        kept.append(ok)
        description = ClipSpec((actor,), "left", background).descriptions()[0]
        right_ids.append(identity(embedder, clip, start, description))
        other = wrong_identity(actor, background, rng)
        wrong = render(
            loaded, draw_frame((other,), background), caption(other, "left", background), seed + n, steps, guidance
        )
        wrong_ids.append(identity(embedder, wrong, start, description))
    return {
        "colour kept in all 3 shots": float(np.mean(kept)),
        **{f"shot {k + 1} alone from a clean frame": float(np.mean(v)) for k, v in enumerate(alone)},
        "identity, shot 3 vs start": float(np.mean(right_ids)),
        "identity, wrong-identity take vs start": float(np.mean(wrong_ids)),
    }


def ranking(loaded, embedder, count: int, steps: int, guidance: float, seed: int = 3_000_017) -> float:
    rng = np.random.default_rng(seed)
    wins = []
    for case in motion_cases(count, seed):
        actor, background = case.spec.actors[0], case.spec.background
        description = case.spec.descriptions()[0]
        right = render(loaded, case.first_frame, case.spec.caption() + ".", case.seed, steps, guidance)
        other = wrong_identity(actor, background, rng)
        wrong = render(
            loaded, draw_frame((other,), background), caption(other, case.direction, background), case.seed, steps,
            guidance,
        )
        wins.append(identity(embedder, right, case.first_frame, description) > identity(embedder, wrong, case.first_frame, description))
    return float(np.mean(wins))


def storyboard_runs(
    loaded, board: Storyboard, folder: Path, runs: int
) -> tuple[dict[str, dict[str, float]], float]:
    """Per shot id, the fraction of runs whose take ``moved`` and ``kept`` as told (`shot_as_told`;
    an unmeasured motion counts as moved), and the fraction of runs in which every shot did both.
    Keyframes are read relative to ``folder``, the storyboard's."""
    graph = plan_storyboard(board)
    settings = board.settings
    hits: dict[str, dict[str, list[bool]]] = {shot.id: {"moved": [], "kept": []} for shot in graph.shots}
    whole = []
    for n in range(runs):
        previous, ok = None, True
        for planned in graph.shots:
            if planned.keyframe == "previous":
                image = handoff_frame(previous, settings.keyframe, settings.keyframe_window)[1]
            elif planned.keyframe == "reference":
                image = load_image(folder / planned.reference, planned.width, planned.height)
            else:  # refused by main
                raise ValueError(f"shot {planned.id} has no reference keyframe")
            prompt, seed = planned.prompt, take_seed(planned.seed, n)
            previous = render(
                loaded, image, prompt.prompt, seed, planned.steps, planned.guidance, prompt.negative_prompt
            )
            told = shot_as_told(previous, board.shot(planned.id).prompt)
            for key in ("moved", "kept"):
                hits[planned.id][key].append(told[key] is not False)
            ok &= told["moved"] is not False and told["kept"]
        whole.append(ok)
    figures = {shot: {k: float(np.mean(v)) for k, v in checks.items()} for shot, checks in hits.items()}
    return figures, float(np.mean(whole))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=40, help="motion cases (a) and ranking pairs (c)")
    parser.add_argument("--pairs", type=int, default=40, help="two-shape cases (d), half of them 'meet'")
    parser.add_argument("--chains", type=int, default=10, help="3-shot chains (b)")
    parser.add_argument("--chain-seed", type=int, default=2_000_003, help="draws the chains (b)")
    parser.add_argument("--pair-seed", type=int, default=4_000_037, help="draws the two-shape cases (d)")
    parser.add_argument("--runs", type=int, default=30, help="runs of the storyboard (e)")
    parser.add_argument("--storyboard", type=Path, default=DEMO, help="storyboard of (e) (default: the demo's)")
    parser.add_argument("--measures", default="abcde", help="which of the measures a–e to run (default all)")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--guidance", type=float, default=DEMO_GUIDANCE, help="default: the demo storyboard's")
    parser.add_argument("--keyframe", choices=("last", "sharpest"), default=DEMO_KEYFRAME, help="hand-off frame (b)")
    parser.add_argument("--model", default=None, help="pipeline folder (default: the committed tiny model)")
    parser.add_argument("--scorer", default=None, help="open_clip local-dir folder (default: committed)")
    args = parser.parse_args()
    if not args.measures or set(args.measures) - set("abcde"):
        parser.error(f"--measures takes letters from abcde (e.g. 'ad'), not {args.measures!r}")
    if "e" in args.measures:
        try:  # refuse a bad storyboard before loading anything
            board = load_storyboard(args.storyboard)
        except StoryreelError as exc:
            parser.error(f"--storyboard: {exc}")
        if any(planned.keyframe not in ("previous", "reference") for planned in plan_storyboard(board).shots):
            parser.error(f"--storyboard: (e) needs every scene of {args.storyboard} to start from a reference keyframe")
        for _, shot in board.shot_list():
            try:
                parse_caption(shot.prompt)
            except ValueError as exc:
                parser.error(f"--storyboard: shot {shot.id}: (e) judges captions of the world only: {exc}")
    model, scorer = args.model or trained_model(), args.scorer or trained_scorer()
    if model is None or scorer is None:
        sys.exit("no trained demo models here: run make train-demo-models first")
    started = time.perf_counter()
    loaded = load_pipeline(str(model))
    embedder = load_embedder(f"local-dir:{scorer}")
    settings = f"steps {args.steps}, guidance {args.guidance}, hand-off frame {args.keyframe}"
    print(f"model {model}\nscorer {scorer}\n{settings}, held-out captions and seeds\n")
    if "a" in args.measures:
        cases = motion_cases(args.cases)
        motion = motion_accuracy(loaded, cases, args.steps, args.guidance)
        print(f"(a) motion direction, {args.cases} clips: " + ", ".join(f"{k} {v:.0%}" for k, v in motion.items()))
        ceiling = roundtrip_accuracy(loaded.pipe.vae, cases)
        print(f"    ceiling: the world's own clips after a VAE round trip move as told in {ceiling:.0%}")
    if "b" in args.measures:
        chain = chains(loaded, embedder, args.chains, args.steps, args.guidance, args.keyframe, args.chain_seed)
        print(f"(b) {args.chains} three-shot chains: " + ", ".join(f"{k} {v:.3g}" for k, v in chain.items()))
    if "c" in args.measures:
        ranked = ranking(loaded, embedder, args.cases, args.steps, args.guidance)
        print(f"(c) scorer ranks the correct continuation first in {ranked:.0%} of {args.cases} pairs")
    if "d" in args.measures:
        pairs = pair_accuracy(loaded, pair_cases(args.pairs, args.pair_seed), args.steps, args.guidance)
        print(
            f"(d) {args.pairs} two-shape clips: meet {pairs['meet']:.0%}, move together {pairs['move']:.0%}, "
            f"both keep their colour {pairs['kept']:.0%}\n    ceilings: the world's own clips meet "
            f"{pairs['world_meet']:.0%}, move together {pairs['world_move']:.0%}; after a VAE round trip both keep "
            f"their colour in {pairs['roundtrip_kept']:.0%}"
        )
    if "e" in args.measures:
        runs, whole = storyboard_runs(loaded, board, args.storyboard.parent, args.runs)
        print(f"(e) {args.storyboard.name}, {args.runs} runs: every shot as told in {whole:.0%}; " + ", ".join(
            f"{shot} moved {v['moved']:.0%} kept {v['kept']:.0%}" for shot, v in runs.items()
        ))
    print(f"\n{time.perf_counter() - started:.0f} s on {loaded.options.device}")


if __name__ == "__main__":
    main()
