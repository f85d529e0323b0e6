"""`score_take`: every metric of one take in one batched pass of the embedder."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from consistency import metrics
from consistency.embedder import Embedder
from consistency.identity import CharacterAnchor, judge_identity
from consistency.motion import motion_continuity
from consistency.policy import TEMPORAL_MAX_DROP, TakeScores, judge, resolve_thresholds
from shots.errors import ScoringError

BOUNDARY_FRAMES = 4


def _check(frames: np.ndarray, name: str) -> np.ndarray:
    if not isinstance(frames, np.ndarray):
        raise ScoringError(f"{name} must be a numpy array, got {type(frames).__name__}")
    if frames.ndim != 4 or frames.shape[-1] != 3 or 0 in frames.shape:
        raise ScoringError(f"{name} must be a non-empty uint8 (F, H, W, 3) array, got shape {frames.shape}")
    if frames.dtype != np.uint8:
        raise ScoringError(f"{name} must be uint8, got {frames.dtype}")
    return frames


def score_take(
    embedder: Embedder,
    frames: np.ndarray,
    prompt: str,
    *,
    anchors: Sequence[CharacterAnchor] = (),
    condition: np.ndarray | None = None,
    scene_anchor: np.ndarray | None = None,
    previous: np.ndarray | None = None,
    thresholds: Mapping[str, float | None] | None = None,
) -> TakeScores:
    """Score a take.

    Args:
        embedder: open_clip model from `load_embedder`.
        frames: The take, uint8 (F, H, W, 3).
        prompt: The shot's prompt (for ``prompt``).
        anchors: The present characters' identity anchors (``identity``, judged on the
            regions that best match them: `consistency.identity`; skipped when empty).
        condition: The frame that conditioned a ``continue`` shot (for ``boundary`` and
            ``color_drift``); None for a cut.
        scene_anchor: First frame of the scene's first shot (for ``color_drift``).
        previous: The previous take of a ``continue`` shot (for ``motion`` at the join).
        thresholds: Overrides of the default thresholds.
    """
    frames = _check(frames, "frames")
    limits = resolve_thresholds(thresholds or {})
    if condition is not None:
        _check(np.asarray(condition)[None], "conditioning frame")
    # 1. embed the take in one batch; the conditioning frame may have another size
    clip = embedder.embed_images(frames, batch=len(frames))
    conditioned = embedder.embed_images(np.asarray(condition)[None])[0] if condition is not None else None
    text = embedder.embed_texts([prompt])[0]

    # 2. metrics
    t = metrics.temporal(clip)
    scores = [
        judge(
            "temporal",
            t.score,
            limits["temporal"],
            {"worst_drop_frame": t.worst_drop_frame, "worst_drop_depth": round(t.worst_drop_depth, 5), "worst_adjacent": round(t.worst_adjacent, 5), "max_drop": TEMPORAL_MAX_DROP},
        ),
        judge("prompt", metrics.clip_score(clip, text), limits["prompt"]),
        judge("flicker", metrics.flicker(frames), limits["flicker"]),
    ]
    if anchors:
        scores.append(judge_identity(embedder, frames, anchors, limits["identity"]))
    if conditioned is not None:
        scores.append(judge("boundary", metrics.boundary(clip[:BOUNDARY_FRAMES], conditioned), limits["boundary"]))
    if previous is not None:
        m = motion_continuity(_check(previous, "previous take"), frames)
        scores.append(judge("motion", m.score, limits["motion"], {"before": [round(v, 3) for v in m.before],
                                                                   "after": [round(v, 3) for v in m.after],
                                                                   "speed": round(m.speed, 3), "direction": round(m.direction, 3)}))
    drift = {}
    if condition is not None:
        drift["vs_condition"] = metrics.color_distance(frames, np.asarray(condition))
    if scene_anchor is not None:
        drift["vs_scene"] = metrics.color_distance(frames, np.asarray(scene_anchor))
    if drift:
        scores.append(judge("color_drift", max(drift.values()), limits["color_drift"], {k: round(v, 3) for k, v in drift.items()}))
    return TakeScores(tuple(sorted(scores, key=lambda s: s.metric)))
