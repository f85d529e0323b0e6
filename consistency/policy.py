"""Thresholds, pass/fail, the re-roll loop and best-take selection.

A take passes when every enabled metric passes (a metric with threshold ``None`` is recorded
but not judged). A failing take is re-rolled with the next seed of the shot's deterministic
schedule (`shots.graph.take_seed`) up to ``max_takes``. The chosen take is the first that
passes; when none does, the one with the best weighted score (ties: the earliest), marked
``best_of_failed``.

Weighted score = Σ wᵢ·gᵢ / Σ wᵢ over the metrics present, with goodness gᵢ in [0, 1]:
identity, boundary, motion, flicker: the value; temporal: score − worst-drop depth; prompt:
value / 2.5; color_drift: 1 − ΔE/50 (floored at 0). Weights: identity .30, temporal .20,
boundary .15, prompt .15, motion .10, flicker .05, color_drift .05.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shots.errors import ScoringError
from shots.graph import take_seed
from shots.models import METRICS

DEFAULT_THRESHOLDS: dict[str, float | None] = {
    "identity": 0.6,
    "temporal": 0.9,
    "boundary": 0.7,
    "motion": 0.5,
    "prompt": 0.5,
    "flicker": 0.85,
    "color_drift": 20.0,
    "draft": 0.8,  # a final pass's take against its approved draft (mean CLIP cosine, frame by frame)
}
TEMPORAL_MAX_DROP = 0.12  # a hard cut or morph: adjacent similarity this far below the median
LOWER_IS_BETTER = frozenset({"color_drift"})
WEIGHTS = {"identity": 0.30, "temporal": 0.20, "boundary": 0.15, "prompt": 0.15, "motion": 0.10, "flicker": 0.05, "color_drift": 0.05}


def resolve_thresholds(*overrides: Mapping[str, float | None]) -> dict[str, float | None]:
    """Defaults updated by each mapping in turn (storyboard settings, then the shot)."""
    merged = dict(DEFAULT_THRESHOLDS)
    for mapping in overrides:
        for metric, value in mapping.items():
            if metric not in METRICS:
                raise ScoringError(f"unknown metric {metric!r}; metrics: {', '.join(METRICS)}")
            merged[metric] = value
    return merged


@dataclass(frozen=True)
class MetricScore:
    """One metric of one take."""

    metric: str
    value: float
    threshold: float | None
    passed: bool | None
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Plain form for storage."""
        return {"metric": self.metric, "value": self.value, "threshold": self.threshold, "passed": self.passed, "details": self.details}


def judge(metric: str, value: float, threshold: float | None, details: dict[str, Any] | None = None) -> MetricScore:
    """A MetricScore with pass/fail against ``threshold`` (None: not judged)."""
    details = dict(details or {})
    if threshold is None:
        passed = None
    elif metric in LOWER_IS_BETTER:
        passed = value <= threshold
    else:
        passed = value >= threshold
    if metric == "temporal" and passed is not None:
        passed = passed and details.get("worst_drop_depth", 0.0) <= details.get("max_drop", TEMPORAL_MAX_DROP)
    return MetricScore(metric, float(value), threshold, passed, details)


def _goodness(score: MetricScore) -> float:
    if score.metric == "prompt":
        return min(1.0, score.value / 2.5)
    if score.metric == "color_drift":
        return max(0.0, 1.0 - score.value / 50.0)
    if score.metric == "temporal":
        return max(0.0, score.value - score.details.get("worst_drop_depth", 0.0))
    return max(0.0, min(1.0, score.value))


def weighted_score(scores: Sequence[MetricScore]) -> float:
    """The documented weighted score of a take, in [0, 1]."""
    present = [s for s in scores if s.metric in WEIGHTS]
    total = sum(WEIGHTS[s.metric] for s in present)
    return 0.0 if total == 0 else sum(WEIGHTS[s.metric] * _goodness(s) for s in present) / total


@dataclass(frozen=True)
class TakeScores:
    """Every metric of a take and the verdict."""

    scores: tuple[MetricScore, ...]

    @property
    def passed(self) -> bool:
        """True when no judged metric failed."""
        return all(s.passed is not False for s in self.scores)

    @property
    def weighted(self) -> float:
        """See `weighted_score`."""
        return weighted_score(self.scores)

    def failures(self) -> list[str]:
        """Names of the metrics that failed."""
        return [s.metric for s in self.scores if s.passed is False]


@dataclass(frozen=True)
class Outcome:
    """What one attempt produced: its scores, or an error."""

    attempt: int
    seed: int
    scores: TakeScores | None
    error: str | None = None

    @property
    def passed(self) -> bool:
        """Rendered and passed every judged metric."""
        return self.scores is not None and self.scores.passed


def choose(outcomes: Sequence[Outcome]) -> tuple[Outcome, str] | None:
    """The chosen attempt and why (``passed`` or ``best_of_failed``); None if all errored."""
    scored = [o for o in outcomes if o.scores is not None]
    passing = [o for o in scored if o.passed]
    if passing:
        return min(passing, key=lambda o: o.attempt), "passed"
    if not scored:
        return None
    best = max(scored, key=lambda o: (o.scores.weighted, -o.attempt))  # type: ignore[union-attr]
    return best, "best_of_failed"


@dataclass(frozen=True)
class RerollPolicy:
    """Render until a take passes or ``max_takes`` attempts exist (earlier ones count)."""

    max_takes: int

    def seed(self, base_seed: int, attempt: int) -> int:
        """Seed of attempt ``attempt`` (1-based)."""
        return take_seed(base_seed, attempt - 1)

    def run(
        self,
        base_seed: int,
        attempt_fn: Callable[[int, int], Outcome],
        done: Sequence[Outcome] = (),
    ) -> tuple[list[Outcome], tuple[Outcome, str] | None]:
        """Call ``attempt_fn(attempt, seed)`` until a pass or the limit; returns all outcomes and the choice.

        ``attempt`` counts the attempts of these inputs: the ``done`` ones (whatever their take
        numbers, which count every take the shot ever had) and those made here.
        """
        outcomes = list(done)
        attempt = len(outcomes)
        while not any(o.passed for o in outcomes) and attempt < self.max_takes:
            attempt += 1
            outcomes.append(attempt_fn(attempt, self.seed(base_seed, attempt)))
        return outcomes, choose(outcomes)
