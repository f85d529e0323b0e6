"""Review inside the render flow: pause for a person's decision in the Prefect UI.

``shot`` mode pauses after each shot's takes are scored (a re-roll renders a new take and asks
again; a rejection ends that chain). ``batch`` mode pauses once for every rendered shot. A
review that times out leaves the shot ``scored``: nothing is lost, the flow goes on.
"""

from __future__ import annotations

from typing import Any

from prefect import get_run_logger
from prefect.context import get_run_context
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput
from pydantic import BaseModel, Field

from flows.context import RenderJob
from flows.review import ShotReview, apply_review, review_markdown, shot_info
from flows.settings import load_settings


class ShotReviewInput(ShotReview, RunInput):
    """The Prefect UI form for one shot."""


class BatchEntry(BaseModel):
    """One shot of a batch review."""

    shot: str
    decision: str = Field(default="approve", pattern="^(approve|reject|reroll)$")
    take: int | None = None
    prompt: str | None = None
    seed: int | None = None
    notes: str = ""


class BatchReviewInput(RunInput):
    """The Prefect UI form for a whole storyboard: one entry per shot."""

    reviewer: str = ""
    reviews: list[BatchEntry] = Field(default_factory=list)


def _resume_self() -> None:
    """After a timed-out pause the run is still Paused on the server: set it running again."""
    from prefect.client.orchestration import get_client
    from prefect.states import Running

    run_id = get_run_context().flow_run.id
    with get_client(sync_client=True) as client:
        client.set_flow_run_state(run_id, Running(), force=True)


def _pause(model: type[RunInput], job: RenderJob) -> Any | None:
    from flows.stop import waiting_for_review

    try:
        with waiting_for_review():  # a Ctrl-C ends the wait at once
            return pause_flow_run(wait_for_input=model, timeout=job.review_timeout, poll_interval=job.review_poll)
    except FlowPauseTimeout:
        get_run_logger().warning("review timed out after %s s; shots stay scored", job.review_timeout)
        _resume_self()
        return None


def review_shot(job: RenderJob, key: str, render: Any) -> str:
    """Pause for one shot until approved, rejected or timed out; re-roll renders and asks again.

    Args:
        render: Called as ``render(job, key)`` to make a new take (the render task).

    Returns:
        The final decision, or ``timeout``.
    """
    settings = load_settings(job.home, job.database_url)
    while True:
        info = shot_info(settings, job.project, key)
        form = type("ShotReview", (ShotReviewInput,), {"__module__": __name__})
        form._description = review_markdown(info, job.media_url)  # shown above the form
        answer = _pause(form, job)
        if answer is None:
            return "timeout"
        review = ShotReview(**{k: getattr(answer, k) for k in ShotReview.model_fields})
        apply_review(settings, job.project, key, review)
        if review.decision != "reroll":
            return review.decision
        render(job.model_copy(update={"only": (key,), "force": True, "seed": review.seed, "prompt": review.prompt}), key)


def review_batch(job: RenderJob, keys: list[str], render: Any) -> dict[str, str]:
    """One pause for every shot in ``keys``; re-rolled shots are rendered and asked again."""
    settings = load_settings(job.home, job.database_url)
    decisions: dict[str, str] = {}
    while keys:
        infos = [shot_info(settings, job.project, k) for k in keys]
        form = BatchReviewInput.with_initial_data(
            description="\n\n---\n\n".join(review_markdown(i, job.media_url) for i in infos),
            reviews=[BatchEntry(shot=k) for k in keys],
        )
        answer = _pause(form, job)
        if answer is None:
            decisions.update({k: "timeout" for k in keys})
            return decisions
        again = []
        for entry in answer.reviews:
            if entry.shot not in keys:
                continue
            review = ShotReview(decision=entry.decision, take=entry.take, prompt=entry.prompt, seed=entry.seed, notes=entry.notes, reviewer=answer.reviewer)
            apply_review(settings, job.project, entry.shot, review)
            decisions[entry.shot] = entry.decision
            if entry.decision == "reroll":
                render(job.model_copy(update={"only": (entry.shot,), "force": True, "seed": entry.seed, "prompt": entry.prompt}), entry.shot)
                again.append(entry.shot)
        keys = again
    return decisions
