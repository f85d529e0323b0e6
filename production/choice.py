"""Which take a shot keeps: the policy's choice over its stored takes, and the frames of one."""

from __future__ import annotations

import numpy as np
from sqlalchemy.orm import Session

from consistency.policy import MetricScore, Outcome, TakeScores, choose
from generation.encode import read_video
from storage.artifacts import ArtifactStore
from storage.repo import choose_take, set_status
from storage.schema import Shot, Take
from storage.tracking import propagate


def outcome(take: Take) -> Outcome:
    """A stored take as the re-roll policy sees it."""
    scores = TakeScores(tuple(MetricScore(s.metric, s.value, s.threshold, s.passed, s.details or {}) for s in take.scores))
    return Outcome(take.attempt, take.seed, scores)


def rechoose(session: Session, shot: Shot) -> None:
    """Choose a shot's take again from its scored takes of the current inputs (after they were
    re-scored); a person's approval stands. Shots after it follow (`propagate`)."""
    if shot.status in ("approved", "rejected"):
        return
    takes = [t for t in shot.takes if t.status == "scored" and t.input_hash == shot.input_hash]
    picked = choose([outcome(t) for t in takes])
    if picked is None:
        return
    best, reason = picked
    choose_take(shot, next(t for t in takes if t.attempt == best.attempt), reason)
    set_status(shot, "scored")
    propagate(session, shot.project)


def take_frames(store: ArtifactStore, take: Take) -> np.ndarray:
    """The frames of a stored take, checked against its SHA-256 first."""
    return read_video(store.checked_path(take.media_path, take.media_sha256, f"take {take.attempt} of shot {take.shot.key}"))
