"""A synthetic motion world: coloured shapes moving over plain backgrounds, with captions.

Clips are procedurally drawn, seeded and reproducible; a shape keeps its identity (shape +
colour) through a clip, and a clip can start where another ended, so identity carries across
shots. Used to test the consistency metrics on known ground truth.
"""

from __future__ import annotations

import math
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
MOTIONS = ("left", "right", "up", "down", "grows", "shrinks", "spins", "bounces")
_STEP = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}


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
        names = " and ".join(f"a {a.color} {a.shape}" for a in self.actors)
        plural = len(self.actors) > 1
        verb = {"left": "move left", "right": "move right", "up": "move up", "down": "move down"}.get(
            self.motion, self.motion.rstrip("s") if plural else self.motion
        )
        if not plural and self.motion in _STEP:
            verb = f"moves {self.motion}"
        return f"{names} {verb} on a {self.background} background"


def actor_at(actor: Actor, motion: str, t: float, speed: float = 0.35) -> Actor:
    """The actor at time ``t`` in [0, 1] of a clip with ``motion``."""
    if motion in _STEP:
        dx, dy = _STEP[motion]
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
    image = Image.new("RGB", (size, size), COLORS[background])
    draw = ImageDraw.Draw(image)
    for actor in actors:
        cx, cy, r = actor.x * size, actor.y * size, actor.size * size / 2
        if actor.shape == "circle":
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=COLORS[actor.color])
        else:
            draw.polygon(_polygon(actor, cx, cy, r), fill=COLORS[actor.color])
    return np.asarray(image)


def render_clip(spec: ClipSpec, frames: int = 17, size: int = 64) -> np.ndarray:
    """The clip as uint8 (frames, size, size, 3)."""
    times = np.linspace(0.0, 1.0, frames)
    return np.stack(
        [draw_frame(tuple(actor_at(a, spec.motion, float(t)) for a in spec.actors), spec.background, size) for t in times]
    )


def end_state(spec: ClipSpec) -> tuple[Actor, ...]:
    """The actors as the clip leaves them, to start the next shot from."""
    return tuple(actor_at(a, spec.motion, 1.0) for a in spec.actors)


def random_spec(rng: np.random.Generator, actors: int = 1) -> ClipSpec:
    """A random clip: distinct shape/colour pairs on a background of another colour."""
    colors = list(COLORS)
    picked = rng.choice(len(colors), size=actors + 1, replace=False)
    cast = tuple(
        Actor(
            shape=str(rng.choice(SHAPES)),
            color=colors[i],
            x=float(rng.uniform(0.35, 0.65)),
            y=float(rng.uniform(0.35, 0.65)),
            size=float(rng.uniform(0.2, 0.3)),
        )
        for i in picked[:actors]
    )
    return ClipSpec(cast, str(rng.choice(MOTIONS)), colors[picked[-1]])
