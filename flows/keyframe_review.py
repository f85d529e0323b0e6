"""The keyframe stage of a reviewed render: once pre-production has begun (the project has
stills, `storyreel keyframes`), a render with ``--review`` pauses once for the whole keyframe
stage — the Prefect form, or the keyframe review page (`review.stills_page`) followed by the
form's Resume — then renders video only for the chains whose first shot's start keyframe is
approved. The others wait, named in the summary.
"""

from __future__ import annotations

from prefect import get_run_logger
from prefect.input import RunInput
from pydantic import Field, create_model

from flows.contexts import render_context
from flows.review_flow import _pause
from production.context import RenderJob
from production.stills import approve_passing, keyframes_waiting

KEYFRAMES = "keyframes"
"""The review tag's key while the keyframe stage waits (``storyreel-review:<project>:keyframes``)."""


def keyframe_form(job: RenderJob, waiting: list[str]) -> type[RunInput]:
    """The Prefect form of the keyframe stage: approve what passed, or go on with what is approved."""
    page = f"{job.media_url.rstrip('/')}/keyframes/{job.stills_project or job.project}" if job.media_url else "storyreel keyframes"
    return create_model(
        "KeyframeReviewForm", __base__=RunInput,
        approve_passing=(bool, Field(True, description=f"approve every passing keyframe and sheet not yet decided "
                                                       f"(decide one by one on {page}); waiting: {', '.join(waiting[:12])}")),
        reviewer=(str, Field(job.reviewer, description="who decides")),
    )


def keyframe_stage(job: RenderJob) -> list[str]:
    """Pause once for the keyframes (reviewed runs that have stills); the cut shots whose start
    keyframe is still not approved afterwards, which this run does not render."""
    if job.review == "off":
        return []
    ctx = render_context(job)
    waiting = keyframes_waiting(ctx)
    if not waiting:
        return []
    answer = _pause(keyframe_form(job, waiting), job, [KEYFRAMES])
    if answer is not None and answer.approve_passing:
        approved = approve_passing(ctx, answer.reviewer or job.reviewer)
        get_run_logger().info("approved %s stills: %s", len(approved), ", ".join(approved))
    return keyframes_waiting(ctx) or []
