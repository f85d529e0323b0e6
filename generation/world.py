"""A synthetic motion world: coloured shapes moving over plain backgrounds, with captions.

Clips are procedurally drawn, seeded and reproducible; a shape keeps its identity (shape +
colour) through a clip, and a clip can start where another ended, so identity carries across
shots. The embedded demo models are trained on this world (`generation.training`), and the
consistency tests use it as known ground truth.

Captions follow one grammar: ``a red circle moves right on a green background``, ``a red
circle and a blue square meet on a green background``. A fixed eighth of all captions is held
out of training (`held_out`) so that benchmarks judge captions the models never saw.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image, ImageDraw

COLORS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "blue": (40, 70, 220),
    "green": (40, 170, 70),
    "yellow": (240, 220, 40),
    "orange": (245, 140, 30),
    "purple": (140, 60, 190),
    "white": (245, 245, 245),
    "black": (20, 20, 20),
    "pink": (245, 150, 200),
}
SHAPES = ("circle", "square", "triangle", "star")
MOTIONS = ("left", "right", "up", "down", "grows", "shrinks", "spins", "bounces", "meet")
"""Every motion; ``meet`` (two shapes close in on each other) needs exactly two actors."""
STEPS = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}
"""Unit (dx, dy) of each direction, y pointing down as in images."""
DIRECTIONS = tuple(STEPS)
SPEED = 0.35
"""How far a moving shape travels in one clip, as a fraction of the frame."""
MEET_STEP = 0.15
VERBS: dict[str, str | None] = {
    **{w: None for w in ("move", "moves")},
    **{w: m for m in MOTIONS if m not in STEPS for w in (m, m[:-1] if m.endswith("s") else m)},
}
"""Caption verbs (singular and plural) and their motion; None: ``move`` + a direction."""


@dataclass(frozen=True)
class Actor:
    """One shape: where it is (fractions of the frame), its size (fraction) and angle."""

    shape: str
    color: str
    x: float = 0.5
    y: float = 0.5
    size: float = 0.25
    angle: float = 0.0


@dataclass(frozen=True)
class ClipSpec:
    """What a clip shows: actors, their motion, the background."""

    actors: tuple[Actor, ...]
    motion: str
    background: str

    def caption(self) -> str:
        """E.g. ``a red circle moves right on a blue background``."""
        names = " and ".join(self.descriptions())
        plural = len(self.actors) > 1
        if self.motion in STEPS:
            verb = f"{'move' if plural else 'moves'} {self.motion}"
        else:
            verb = self.motion[:-1] if plural and self.motion.endswith("s") else self.motion
        return f"{names} {verb} on a {self.background} background"

    def descriptions(self) -> list[str]:
        """Each actor as a character description, e.g. ``a red circle``."""
        return [f"{'an' if a.color[0] in 'aeiou' else 'a'} {a.color} {a.shape}" for a in self.actors]


def parse_caption(caption: str) -> ClipSpec:
    """The `ClipSpec` a caption of the world's grammar describes (actors at the default place
    and size); ValueError naming the grammar for any other text. Inverse of `ClipSpec.caption`
    up to positions, so ``parse_caption(spec.caption()).caption() == spec.caption()``."""
    text = caption.strip().rstrip(".").strip()
    words = text.split()
    grammar = "expected e.g. 'a red circle moves right on a green background'"
    if len(words) < 7 or words[-4:-2] != ["on", "a"] or words[-1] != "background":
        raise ValueError(f"{caption!r} is not a caption of the world: {grammar}")
    background, names = words[-2], words[:-4]
    verb_at = next((i for i, w in enumerate(names) if w in VERBS), None)
    if verb_at is None:
        raise ValueError(f"{caption!r} has no motion; motions: {', '.join(MOTIONS)}")
    motion = VERBS[names[verb_at]]
    if motion is None:  # move / moves + a direction
        if len(names) != verb_at + 2 or names[-1] not in DIRECTIONS:
            raise ValueError(f"{caption!r}: 'move' takes one of {', '.join(DIRECTIONS)}")
        motion = names[verb_at + 1]
    elif names[verb_at + 1 :]:
        raise ValueError(f"{caption!r}: nothing may follow {names[verb_at]!r} but the background")
    actors = []
    for part in " ".join(names[:verb_at]).split(" and "):
        name = part.split()
        if len(name) != 3 or name[0] not in ("a", "an") or name[1] not in COLORS or name[2] not in SHAPES:
            raise ValueError(f"{caption!r}: {part!r} is not '<a|an> <colour> <shape>' of the world's vocabulary")
        actors.append(Actor(name[2], name[1]))
    if motion == "meet" and len(actors) != 2:
        raise ValueError(f"{caption!r}: 'meet' needs two shapes")
    if background in {a.color for a in actors}:
        raise ValueError(f"{caption!r}: the background must be another colour than the shapes'")
    spec = ClipSpec(tuple(actors), motion, background)
    if background not in COLORS or spec.caption() != text:
        raise ValueError(f"{caption!r} is not a caption of the world: {grammar}")
    return spec


def actor_at(actor: Actor, motion: str, t: float, speed: float = SPEED, toward: float = 0.0) -> Actor:
    """The actor at time ``t`` in [0, 1] of a clip with ``motion``.

    ``toward`` is the sign (−1, +1) of the horizontal direction to the other actor (``meet``).
    """
    if motion == "meet":
        return replace(actor, x=actor.x + toward * MEET_STEP * t)
    if motion in STEPS:
        dx, dy = STEPS[motion]
        return replace(actor, x=actor.x + dx * speed * t, y=actor.y + dy * speed * t)
    if motion == "grows":
        return replace(actor, size=actor.size * (1 + t))
    if motion == "shrinks":
        return replace(actor, size=actor.size * (1 - 0.5 * t))
    if motion == "spins":
        return replace(actor, angle=actor.angle + 360 * t)
    if motion == "bounces":
        return replace(actor, y=actor.y - 0.25 * abs(math.sin(math.pi * 2 * t)))
    raise ValueError(f"motion {motion!r} is not one of {', '.join(MOTIONS)}")


def _polygon(actor: Actor, cx: float, cy: float, r: float) -> list[tuple[float, float]]:
    if actor.shape == "square":
        corners = [45, 135, 225, 315]
        radius = [r * math.sqrt(2)] * 4
    elif actor.shape == "triangle":
        corners = [-90, 30, 150]
        radius = [r * 1.2] * 3
    else:  # star
        corners = [-90 + 36 * i for i in range(10)]
        radius = [r * 1.3 if i % 2 == 0 else r * 0.55 for i in range(10)]
    return [
        (cx + rad * math.cos(math.radians(a + actor.angle)), cy + rad * math.sin(math.radians(a + actor.angle)))
        for a, rad in zip(corners, radius)
    ]


def draw_frame(actors: tuple[Actor, ...], background: str, size: int = 64) -> np.ndarray:
    """One uint8 (size, size, 3) frame."""
    return _paint(actors, COLORS[background], size)


def _paint(actors: tuple[Actor, ...], ground: tuple[int, int, int], size: int) -> np.ndarray:
    image = Image.new("RGB", (size, size), ground)
    draw = ImageDraw.Draw(image)
    for actor in actors:
        cx, cy, r = actor.x * size, actor.y * size, actor.size * size / 2
        if actor.shape == "circle":
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=COLORS[actor.color])
        else:
            draw.polygon(_polygon(actor, cx, cy, r), fill=COLORS[actor.color])
    return np.asarray(image)


PORTRAIT_GREY = (128, 128, 128)
"""The neutral ground of a character portrait: the grey `consistency.identity` paints behind a
region of a frame it compares (a colour no world background has)."""


PORTRAIT_FILL = 0.6
"""How much of a portrait's side the character's box fills (`consistency.identity.FILL`)."""


def portrait(actor: Actor, size: int = 64, from_frame: bool = False) -> np.ndarray:
    """One character alone on the neutral grey ground, centred, its box filling `PORTRAIT_FILL`
    of the side: what `consistency.identity` makes of an anchor, or of a region of a frame.

    ``from_frame`` draws it as large as it is in a ``size`` frame and scales that region up
    (bilinear), as identity does with a region of a rendered frame; otherwise it is drawn
    large and sharp.
    """
    width = 2 * _reach(actor) or actor.size
    if not from_frame:
        return _paint((replace(actor, x=0.5, y=0.5, size=actor.size * PORTRAIT_FILL / width),), PORTRAIT_GREY, size)
    frame = _paint((replace(actor, x=0.5, y=0.5),), PORTRAIT_GREY, size)
    ys, xs = np.nonzero(np.any(frame != PORTRAIT_GREY, axis=-1))
    region = Image.fromarray(frame[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1])
    scale = PORTRAIT_FILL * size / max(region.size)
    region = region.resize((max(1, round(region.width * scale)), max(1, round(region.height * scale))), Image.Resampling.BILINEAR)
    out = Image.new("RGB", (size, size), PORTRAIT_GREY)
    out.paste(region, ((size - region.width) // 2, (size - region.height) // 2))
    return np.asarray(out)


def _reach(actor: Actor) -> float:
    """Half the side of the box around a drawn actor, as a fraction of the frame."""
    r = actor.size / 2
    if actor.shape == "circle":
        return r
    xs, ys = zip(*_polygon(actor, 0.0, 0.0, r))
    return max(max(xs) - min(xs), max(ys) - min(ys)) / 2


def actors_at(spec: ClipSpec, t: float) -> tuple[Actor, ...]:
    """Every actor of the clip at time ``t`` in [0, 1]."""
    if spec.motion == "meet":
        if len(spec.actors) != 2:
            raise ValueError("motion 'meet' needs exactly two actors")
        a, b = spec.actors
        sign = 1.0 if a.x <= b.x else -1.0
        return (actor_at(a, "meet", t, toward=sign), actor_at(b, "meet", t, toward=-sign))
    return tuple(actor_at(a, spec.motion, t) for a in spec.actors)


def render_clip(spec: ClipSpec, frames: int = 17, size: int = 64) -> np.ndarray:
    """The clip as uint8 (frames, size, size, 3)."""
    times = np.linspace(0.0, 1.0, frames)
    return np.stack([draw_frame(actors_at(spec, float(t)), spec.background, size) for t in times])


def end_state(spec: ClipSpec) -> tuple[Actor, ...]:
    """The actors as the clip leaves them, to start the next shot from."""
    return actors_at(spec, 1.0)


def keyframe(caption: str, size: int = 64) -> np.ndarray:
    """The first frame of a clip the caption describes, as the world lays such clips out.

    The embedded demo model's text-to-image: a cut shot without a reference image starts from
    it. Each shape starts where its motion keeps it in frame (the middle of the range
    `sample_spec` draws from); two shapes that meet start on either side, others side by side.

    Raises:
        ValueError: The caption is not of the world's grammar (`parse_caption` says why).
    """
    spec = _laid_out(caption)
    return draw_frame(spec.actors, spec.background, size)


def endframe(caption: str, size: int = 64) -> np.ndarray:
    """The last frame of the clip `keyframe` starts: the same layout, moved as the caption says.

    Raises:
        ValueError: The caption is not of the world's grammar.
    """
    spec = _laid_out(caption)
    return draw_frame(end_state(spec), spec.background, size)


def _laid_out(caption: str) -> ClipSpec:
    spec = parse_caption(caption)
    dx, dy = STEPS.get(spec.motion, (0, 0))
    x = 0.5 - dx * SPEED / 2
    y = 0.5 - dy * SPEED / 2 + (0.15 if spec.motion == "bounces" else 0.0)
    count = len(spec.actors)
    placed = []
    for n, actor in enumerate(spec.actors):
        offset = (n - (count - 1) / 2) * (0.5 if spec.motion == "meet" else 0.3)
        placed.append(replace(actor, x=x + offset, y=y, size=0.25 if count == 1 else 0.2))
    return replace(spec, actors=tuple(placed))


def held_out(caption: str) -> bool:
    """True for the fixed eighth of captions that training never sees (a stable hash)."""
    return zlib.crc32(caption.encode()) % 8 == 0


def sample_spec(
    rng: np.random.Generator,
    actors: int = 1,
    motion: str | None = None,
    split: str | None = None,
) -> ClipSpec:
    """A random clip whose shapes stay in frame: distinct colours, background of another.

    ``split`` ``train`` or ``eval`` draws only captions outside or inside `held_out`.
    """
    while True:
        spec = _draw(rng, actors, motion)
        if split is None or held_out(spec.caption()) == (split == "eval"):
            return spec


def _draw(rng: np.random.Generator, actors: int, motion: str | None) -> ClipSpec:
    colors = list(COLORS)
    picked = rng.choice(len(colors), size=actors + 1, replace=False)
    motions = [m for m in MOTIONS if m != "meet" or actors == 2]
    motion = motion or str(rng.choice(motions))
    dx, dy = STEPS.get(motion, (0, 0))
    cast = []
    for n, i in enumerate(picked[:actors]):
        # Start where the motion keeps the shape inside [0.15, 0.85] of the frame.
        lo_x, hi_x = 0.15 + max(0, -dx) * SPEED, 0.85 - max(0, dx) * SPEED
        lo_y, hi_y = 0.15 + max(0, -dy) * SPEED, 0.85 - max(0, dy) * SPEED
        if motion == "bounces":
            lo_y = 0.4
        if motion == "meet":  # one on each side
            lo_x, hi_x = (0.15, 0.35) if n == 0 else (0.65, 0.85)
        cast.append(
            Actor(
                shape=str(rng.choice(SHAPES)),
                color=colors[i],
                x=float(rng.uniform(lo_x, hi_x)),
                y=float(rng.uniform(lo_y, hi_y)),
                size=float(rng.uniform(0.2, 0.3)),
            )
        )
    return ClipSpec(tuple(cast), motion, colors[picked[-1]])


def actor_for(description: str) -> Actor:
    """The shape a character description of the world names (``a red circle``).

    Raises:
        ValueError: The description is not ``<a|an> <colour> <shape>`` of the world's vocabulary.
    """
    name = description.strip().rstrip(".").split()
    if len(name) != 3 or name[0] not in ("a", "an") or name[1] not in COLORS or name[2] not in SHAPES:
        raise ValueError(f"{description!r} is not '<a|an> <colour> <shape>' of the world's vocabulary")
    return Actor(name[2], name[1])


def sheet_view(description: str, view: int, size: int = 64) -> np.ndarray:
    """View ``view`` of a character sheet of the shape ``description`` names: 0 its portrait
    (what identity anchors on), 1 the portrait turned by 30°, 2 and on the whole shape at a
    frame's scale on the grey ground.

    Raises:
        ValueError: The description is not of the world's vocabulary (`actor_for`).
    """
    actor = actor_for(description)
    if view == 0:
        return portrait(actor, size)
    if view == 1:
        return portrait(replace(actor, angle=actor.angle + 30.0), size)
    return _paint((replace(actor, x=0.5, y=0.5, size=0.25),), PORTRAIT_GREY, size)
