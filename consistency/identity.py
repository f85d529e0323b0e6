"""Identity judged on the character, not the scene: anchors are regions, takes are searched.

Comparing whole frames makes a character on a new background a stranger (the old metric gave
the demo's red circle 0.000 on yellow against its frame on black). Here:

1. **Foreground.** A frame's background colour is the median of its border pixels; pixels
   within `BACKGROUND_DISTANCE` (RGB) of it are background (plain grounds, studio shots;
   on a busy scene little is removed and the region's pixels speak for themselves); the
   foreground is then eroded by a pixel per 64 of the short side, dropping the fringe where
   edges blend into the ground.
2. **Region → portrait.** A region (box) of a frame becomes a *portrait*: its foreground pixels,
   cut out and scaled so that the region's longer side fills `FILL` of a square neutral grey
   ground (`CANVAS`), centred — the character at one size, whatever stood behind it and
   however near it was (re-identification's crop-and-resize).
3. **Candidate regions** of a frame: when its foreground falls apart into a few separate
   things (at most `MAX_OBJECTS` components of neighbouring pixels of like colour — within
   `COLOUR_STEP` — on a grid of at most `GRID` cells, so two touching things of different
   colours stay two), each thing's bounding box, each pair's, and the whole frame; otherwise
   (a busy scene) square windows of `WINDOW_SIDES` of the short side at a third-side stride
   that hold some foreground, and the whole frame.
4. **Anchor.** A reference image is a portrait of its whole frame. A frame of a take is the
   portrait of its ``box`` when a person gave one, else of the candidate region that best
   matches the character's description text under the scorer (cosine).
5. **Identity** of a take for one character: on `FRAMES` evenly spaced frames (first and last
   included), the best cosine between any candidate portrait and the anchor; the score is
   ½·mean + ¼·max + ¼·min over those frames (VBench-I2V's mix of the clipped cosines). With
   several characters, their mean; each one's value is kept in the score's details.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from consistency.embedder import Embedder
from consistency.policy import MetricScore, judge

CANVAS = 128
"""Grey level of the ground a portrait is painted on (the demo world draws its training
portraits on the same grey: `generation.world.PORTRAIT_GREY`)."""
FILL = 0.6
"""Share of the portrait's side the region's longer side fills (the world's portraits too)."""
PORTRAIT_SIZE = 64
BACKGROUND_DISTANCE = 40.0
WINDOW_SIDES = (0.3, 0.45, 0.6)
FRAMES = 4
MAX_OBJECTS = 6
GRID = 96
COLOUR_STEP = 60.0

Box = tuple[int, int, int, int]  # x, y, width, height in pixels


def foreground(frame: np.ndarray) -> np.ndarray:
    """Boolean (H, W): pixels further than `BACKGROUND_DISTANCE` from the border's median
    colour, eroded by a pixel per 64 of the short side."""
    border = np.concatenate([frame[0], frame[-1], frame[:, 0], frame[:, -1]]).astype(np.float32)
    ground = np.median(border, axis=0)
    mask = np.linalg.norm(frame.astype(np.float32) - ground, axis=-1) > BACKGROUND_DISTANCE
    for _ in range(max(1, min(frame.shape[:2]) // 64)):
        inner = mask.copy()
        inner[1:] &= mask[:-1]
        inner[:-1] &= mask[1:]
        inner[:, 1:] &= mask[:, :-1]
        inner[:, :-1] &= mask[:, 1:]
        mask = inner
    return mask


def portrait(frame: np.ndarray, box: Box | None = None, mask: np.ndarray | None = None, size: int = PORTRAIT_SIZE) -> np.ndarray:
    """The region ``box`` of ``frame`` (whole frame when None) as a ``size``² portrait (module doc)."""
    from PIL import Image

    height, width = frame.shape[:2]
    x, y, w, h = box or (0, 0, width, height)
    mask = foreground(frame) if mask is None else mask
    region = np.where(mask[y : y + h, x : x + w, None], frame[y : y + h, x : x + w], CANVAS).astype(np.uint8)
    scale = FILL * size / max(w, h)
    shown = Image.fromarray(region).resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.BILINEAR)
    out = Image.new("RGB", (size, size), (CANVAS, CANVAS, CANVAS))
    out.paste(shown, ((size - shown.width) // 2, (size - shown.height) // 2))
    return np.asarray(out)


def candidate_boxes(height: int, width: int) -> list[Box]:
    """Square windows of `WINDOW_SIDES` of the short side at a third-side stride, and the frame."""
    boxes: list[Box] = []
    short = min(height, width)
    for fraction in WINDOW_SIDES:
        side = max(4, round(fraction * short))
        stride = max(1, side // 3)
        boxes += [(x, y, side, side) for y in range(0, height - side + 1, stride) for x in range(0, width - side + 1, stride)]
    return boxes + [(0, 0, width, height)]


def components(mask: np.ndarray, frame: np.ndarray | None = None) -> list[Box]:
    """Bounding boxes of the 4-connected components of ``mask`` (found on a grid of at most
    `GRID` cells a side, boxes in pixels), largest first; with ``frame``, neighbours join only
    when their colours are within `COLOUR_STEP`. Specks under 0.2 % of the grid are left out."""
    height, width = mask.shape
    step = max(1, -(-max(height, width) // GRID))
    grid = mask[::step, ::step]
    colour = frame[::step, ::step].astype(np.float32) if frame is not None else None
    labels = np.where(grid, np.arange(grid.size).reshape(grid.shape) + 1, 0)
    pairs = (((slice(1, None), slice(None)), (slice(None, -1), slice(None))),
             ((slice(None, -1), slice(None)), (slice(1, None), slice(None))),
             ((slice(None), slice(1, None)), (slice(None), slice(None, -1))),
             ((slice(None), slice(None, -1)), (slice(None), slice(1, None))))
    alike = [np.ones(grid[target].shape, bool) if colour is None
             else np.linalg.norm(colour[shifted] - colour[target], axis=-1) <= COLOUR_STEP for shifted, target in pairs]
    while True:  # every cell takes the smallest label among itself and its like neighbours
        spread = labels.copy()
        for (shifted, target), joins in zip(pairs, alike):
            neighbour = labels[shifted]
            both = (neighbour > 0) & (spread[target] > 0) & joins
            spread[target] = np.where(both, np.minimum(spread[target], neighbour), spread[target])
        if np.array_equal(spread, labels):
            break
        labels = spread
    boxes = []
    speck = max(2, grid.size // 500)  # specks of noise are no things
    for label in np.unique(labels[labels > 0]):
        ys, xs = np.nonzero(labels == label)
        if len(ys) < speck:
            continue
        x0, y0 = xs.min() * step, ys.min() * step
        x1, y1 = min(width, (xs.max() + 1) * step), min(height, (ys.max() + 1) * step)
        boxes.append((len(ys), (int(x0), int(y0), int(x1 - x0), int(y1 - y0))))
    return [box for _, box in sorted(boxes, reverse=True)]


def _union(a: Box, b: Box) -> Box:
    x0, y0 = min(a[0], b[0]), min(a[1], b[1])
    x1, y1 = max(a[0] + a[2], b[0] + b[2]), max(a[1] + a[3], b[1] + b[3])
    return (x0, y0, x1 - x0, y1 - y0)


def candidates(frame: np.ndarray) -> tuple[list[Box], np.ndarray]:
    """The candidate regions of a frame (see module doc) and their portraits (N, H, W, 3)."""
    height, width = frame.shape[:2]
    mask = foreground(frame)
    whole = (0, 0, width, height)
    objects = components(mask, frame) if mask.any() else []
    if 0 < len(objects) <= MAX_OBJECTS:
        boxes = objects + [_union(a, b) for i, a in enumerate(objects) for b in objects[i + 1 :]] + [whole]
    else:
        boxes = [b for b in candidate_boxes(height, width) if mask[b[1] : b[1] + b[3], b[0] : b[0] + b[2]].any()] + [whole]
    return boxes, np.stack([portrait(frame, b, mask) for b in boxes])


@dataclass(frozen=True)
class Anchor:
    """A character's identity anchor: its portrait and the portrait's embedding.

    Attributes:
        image: The portrait, uint8 (H, W, 3).
        box: The region of the source frame it came from (None: the whole image).
    """

    image: np.ndarray
    embedding: np.ndarray
    box: Box | None


def anchor_from_frame(embedder: Embedder, frame: np.ndarray, description: str, box: Box | None = None) -> Anchor:
    """The anchor of a character in ``frame``: the portrait of ``box``, or of the candidate region
    best matching ``description`` under the scorer."""
    if box is not None:
        image = portrait(frame, box)
        return Anchor(image, embedder.embed_images(image[None])[0], box)
    boxes, images = candidates(frame)
    embeddings = embedder.embed_images(images)
    best = int(np.argmax(embeddings @ embedder.embed_texts([description])[0]))
    return Anchor(images[best], embeddings[best], boxes[best])


def best_matches(embedder: Embedder, frames: np.ndarray, anchors: Sequence[np.ndarray], count: int = FRAMES) -> np.ndarray:
    """(frames used, anchors): per sampled frame, the best clipped cosine of any region to each anchor."""
    picks = np.unique(np.linspace(0, len(frames) - 1, num=min(count, len(frames))).round().astype(int))
    table = np.stack(anchors)  # (A, D)
    rows = []
    for index in picks:
        _, images = candidates(frames[index])
        rows.append((embedder.embed_images(images) @ table.T).max(axis=0))  # (A,)
    return np.maximum(np.stack(rows), 0.0)


def identity_scores(embedder: Embedder, frames: np.ndarray, anchors: Sequence[np.ndarray]) -> list[float]:
    """Each anchor's identity score in ``frames``: ½·mean + ¼·max + ¼·min over sampled frames."""
    sims = best_matches(embedder, frames, anchors)
    return [float(v) for v in 0.5 * sims.mean(axis=0) + 0.25 * sims.max(axis=0) + 0.25 * sims.min(axis=0)]


@dataclass(frozen=True)
class CharacterAnchor:
    """A character's current anchor as scoring uses it (its checksum goes into the score)."""

    character: str
    sha256: str
    image: np.ndarray
    embedding: np.ndarray


def judge_identity(embedder: Embedder, frames: np.ndarray, anchors: Sequence[CharacterAnchor], threshold: float | None) -> MetricScore:
    """The ``identity`` metric of a take: the mean of its characters' scores, each kept in the
    details with the anchor it was judged against."""
    values = identity_scores(embedder, frames, [a.embedding for a in anchors])
    details = {"characters": {a.character: round(v, 4) for a, v in zip(anchors, values)},
               "anchors": {a.character: a.sha256 for a in anchors}}
    return judge("identity", float(np.mean(values)), threshold, details)
