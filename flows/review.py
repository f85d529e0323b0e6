"""Reviewing shots: what a reviewer sees, and applying their decision (UI, terminal, scripts)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from flows.settings import AppSettings
from flows.store import transaction
from storage.repo import (
    add_review,
    get_project,
    get_project_shot,
    get_shot,
    get_take,
    live_shots,
)
from storage.tracking import propagate

Decision = Literal["approve", "reject", "reroll"]


class ShotReview(BaseModel):
    """A reviewer's decision on one shot (also the Prefect UI form)."""

    decision: Decision = Field(default="approve", description="approve the chosen take (or `take`), reject the shot, or re-roll a new take")
    take: int | None = Field(default=None, description="approve this take number instead of the chosen one")
    prompt: str | None = Field(default=None, description="re-roll with this prompt instead")
    seed: int | None = Field(default=None, ge=0, lt=2**32, description="re-roll with this seed")
    notes: str = Field(default="", description="notes kept with the review")
    reviewer: str = Field(default="", description="who decided")


def shot_info(settings: AppSettings, project: str, key: str) -> dict[str, Any]:
    """Everything a reviewer needs about one shot, as plain data."""
    with transaction(settings.database()) as session:
        shot = get_project_shot(session, project, key)
        chosen = shot.chosen_take
        return {
            "shot": shot.key,
            "scene": shot.scene,
            "status": shot.status,
            "prompt": shot.prompt,
            "chosen": chosen.attempt if chosen else None,
            "takes": [
                {
                    "take": t.attempt,
                    "seed": t.seed,
                    "status": t.status,
                    "passed": t.passed,
                    "weighted": round(t.weighted_score or 0.0, 4),
                    "video": t.media_path,
                    "sheet": t.sheet_path,
                    "error": t.error,
                    "scores": {s.metric: (round(s.value, 4), s.threshold, s.passed) for s in t.scores},
                }
                for t in shot.takes
            ],
        }


def to_review(settings: AppSettings, project: str) -> list[str]:
    """Shots waiting for a decision: scored, not yet approved or rejected."""
    with transaction(settings.database()) as session:
        return [s.key for s in live_shots(session, get_project(session, project)) if s.status == "scored"]


def apply_review(settings: AppSettings, project: str, key: str, review: ShotReview) -> list[str]:
    """Store the decision; approve/reject change the shot. Returns shots made stale by it.

    Holds the shot's lease meanwhile: a decision on a shot whose take is being rendered right
    now is refused (`flows.leases.Busy`, naming the render) instead of being overridden by it.
    """
    from flows.leases import hold
    from storage.leases import shot_scope

    engine = settings.database()
    with hold(engine, project, scope=shot_scope(key), purpose="review"):
        return _apply(engine, project, key, review)


def _apply(engine: Any, project: str, key: str, review: ShotReview) -> list[str]:
    with transaction(engine) as session:
        record = get_project(session, project)
        shot = get_shot(session, record, key)
        take = get_take(session, shot, review.take) if review.take is not None else None
        changes = {k: v for k, v in (("prompt", review.prompt), ("seed", review.seed)) if v is not None}
        add_review(session, shot, review.decision, take, review.notes, review.reviewer, changes)
        result = propagate(session, record)
    return [k for k, (state, _) in result.items() if state == "stale"]


def review_markdown(info: dict[str, Any], media_url: str | None) -> str:
    """The Prefect UI form description: contact sheet, scores, links to every take."""
    def link(path: str | None) -> str:
        return f"{media_url.rstrip('/')}/{path}" if media_url and path else (path or "")

    chosen = next((t for t in info["takes"] if t["take"] == info["chosen"]), None)
    lines = []
    if chosen:  # the picture first: the form's description pane is short
        lines += [f"![contact sheet of take {chosen['take']}]({link(chosen['sheet'])})", ""]
    lines += [f"**Shot `{info['shot']}`** (scene {info['scene']}), take {info['chosen']}: {info['prompt']}", ""]
    lines += ["| take | seed | passed | weighted | scores | video |", "|---|---|---|---|---|---|"]
    for t in info["takes"]:
        scores = ", ".join(f"{m} {v:.3f}{'' if p is None else (' ✓' if p else ' ✗')}" for m, (v, _, p) in t["scores"].items())
        mark = " **(chosen)**" if t["take"] == info["chosen"] else ""
        video = f"[mp4]({link(t['video'])})" if t["video"] else t["error"] or ""
        lines.append(f"| {t['take']}{mark} | {t['seed']} | {t['passed']} | {t['weighted']} | {scores or t['status']} | {video} |")
    lines += ["", "Approve the chosen take (or give a take number), reject the shot, or re-roll with an edited prompt or seed."]
    return "\n".join(lines)
