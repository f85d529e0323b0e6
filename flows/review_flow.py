"""Review inside the render flow: pause for a person's decision (the Prefect form, or the review
page, which resumes the same pause with the same input).

``shot`` mode pauses after each shot's takes are scored (a re-roll renders a new take and asks
again; a rejection ends that chain). ``batch`` mode pauses once for every rendered shot. A shot
a person approved is never asked about again. A decision that cannot be applied (a take that is
not there, a seed out of range) is asked again with the reason; the run never fails on it. A
review that times out leaves the shot ``scored``: nothing is lost, the flow goes on.

While paused, the flow run carries the tag ``storyreel-review:<project key>:<shot>`` (the
review page finds the run to resume by it) and the terminal says what waits and where.
"""

from __future__ import annotations

import contextlib
from types import SimpleNamespace
from typing import Any, Literal

from prefect import get_run_logger
from prefect.context import get_run_context
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput
from pydantic import BaseModel, Field, create_model

from production import progress
from production.context import RenderJob
from review.decisions import (
    DECISIONS,
    ShotReview,
    apply_review,
    batch_help,
    check_review,
    decision_help,
    own_text,
    page_url,
    parse_seed,
    preselected_take,
    reviewable_takes,
    review_summary,
    shot_info,
    takes_line,
)
from flows.settings import load_settings
from review.project_page import decision_text
from production.store import project_key, transaction
from shots.errors import StoryreelError

TAG = "storyreel-review"
BATCH_TAG = "storyreel-review-batch"
"""Carried with the shot tags while a batch form (every shot at once) waits."""


def review_tag(project: str, key: str) -> str:
    """The tag a flow run paused for a review of ``key`` carries."""
    return f"{TAG}:{project_key(project)}:{key}"


def _select(schema: dict[str, Any]) -> None:
    """A one-value Literal is a ``const`` (the UI shows it locked): make it a select of one."""
    if "const" in schema:
        schema["enum"] = [schema.pop("const")]


def shot_form(info: dict[str, Any], reviewer: str, page: str | None = None, problem: str | None = None) -> type[RunInput]:
    """The Prefect form for one shot, every input a plain field: a decision select (its
    description the verdict and the review page), the take as a select of the shot's takes (its
    description their scores), the shot's own prompt text and the seed as text, notes, the
    reviewer prefilled."""
    takes = reviewable_takes(info) or [0]
    fields: dict[str, Any] = {
        "decision": (Literal[DECISIONS], Field("approve", description=decision_help(info, page, problem))),  # type: ignore[valid-type]
        "take": (Literal[tuple(takes)], Field(preselected_take(info), description=f"the take to approve — {takes_line(info)}",  # type: ignore[valid-type]
                                              json_schema_extra=_select)),
        "prompt": (str, Field(own_text(info), description="for a reroll: the shot's own text, characters added")),
        "seed": (str, Field("", description="for a reroll: a seed, or empty for the shot's next one")),
        "notes": (str, Field("", description="kept with the decision")),
        "reviewer": (str, Field(reviewer, description="who decides")),
    }
    if info["characters"]:
        fields["anchor"] = (Literal[("", *info["characters"])], Field(  # type: ignore[misc]
            "", description="with approve: this take becomes the character's anchor"))
    return create_model("ShotReviewForm", __base__=RunInput, **fields)


def answer_review(answer: Any, info: dict[str, Any]) -> tuple[ShotReview | None, str | None]:
    """A form's answer as a `ShotReview`, or the reason it cannot be one."""
    seed, problem = parse_seed(getattr(answer, "seed", None))
    if problem:
        return None, problem
    take = getattr(answer, "take", None)
    prompt = getattr(answer, "prompt", None)
    own = own_text(info)
    try:
        review = ShotReview(
            decision=answer.decision,
            take=take or None if answer.decision == "approve" else None,
            prompt=prompt if answer.decision == "reroll" and prompt and prompt.strip() != own.strip() else None,
            seed=seed if answer.decision == "reroll" else None,
            notes=getattr(answer, "notes", "") or "",
            reviewer=getattr(answer, "reviewer", "") or "",
            anchor=getattr(answer, "anchor", "") or "",
        )
    except ValueError as exc:
        return None, str(exc).splitlines()[-1]
    return review, check_review(info, review)


def _resume_self() -> None:
    """After a timed-out pause the run is still Paused on the server: set it running again."""
    from prefect.client.orchestration import get_client
    from prefect.states import Running

    run_id = get_run_context().flow_run.id
    with get_client(sync_client=True) as client:
        client.set_flow_run_state(run_id, Running(), force=True)


@contextlib.contextmanager
def _tagged(tags: list[str]) -> Any:
    """The flow run carries ``tags`` while the block runs."""
    from prefect.client.orchestration import get_client

    run_id = get_run_context().flow_run.id
    with get_client(sync_client=True) as client:
        before = list(client.read_flow_run(run_id).tags)
        client.update_flow_run(run_id, tags=[*before, *tags])
    try:
        yield
    finally:
        with contextlib.suppress(Exception), get_client(sync_client=True) as client:
            client.update_flow_run(run_id, tags=[t for t in client.read_flow_run(run_id).tags if t not in tags])


def _announce(job: RenderJob, keys: list[str]) -> None:
    """Say once per pause, in the terminal and the run's log, what waits and where."""
    from flows.prefect_api import ui_url

    ui = ui_url()
    run_id = get_run_context().flow_run.id
    where = [f"{ui}/runs/flow-run/{run_id}"] if ui else []
    page = page_url(job.media_url, job.project, keys[0] if len(keys) == 1 else None)
    if page:
        where.append(f"review page {page}")
    text = f"waiting for review of {', '.join(keys)} (project {job.project})" + (": " + "  ".join(where) if where else "")
    progress.notice(text)
    get_run_logger().info(text)


def _pause(model: type[RunInput], job: RenderJob, keys: list[str], batch: bool = False) -> Any | None:
    from production.stop import waiting_for_review

    _announce(job, keys)
    tags = [review_tag(job.project, k) for k in keys] + ([BATCH_TAG] if batch else [])
    try:
        with waiting_for_review(), _tagged(tags):  # a Ctrl-C ends the wait at once
            return pause_flow_run(wait_for_input=model, timeout=job.review_timeout, poll_interval=job.review_poll)
    except FlowPauseTimeout:
        get_run_logger().warning("review timed out after %s s; shots stay scored", job.review_timeout)
        _resume_self()
        return None


def _said(line: str) -> None:
    """Each applied decision, in the terminal and the run's log (``s02: approved take 1 by mara``)."""
    progress.notice(line)
    get_run_logger().info(line)


def review_shot(job: RenderJob, key: str, render: Any) -> str:
    """Pause for one shot until approved, rejected or timed out; a re-roll renders and asks
    again; a decision that cannot be applied is asked again with the reason.

    Args:
        render: Called as ``render(job, key)`` to make a new take (the render task).

    Returns:
        The final decision, or ``timeout``.
    """
    settings = load_settings(job.home, job.database_url)
    problem: str | None = None
    while True:
        info = shot_info(settings, job.project, key)
        page = page_url(job.media_url, job.project, key)
        form = shot_form(info, job.reviewer, page, problem)
        form._description = review_summary(info, page, problem)  # shown above the form
        answer = _pause(form, job, [key])
        if answer is None:
            return "timeout"
        review, problem = answer_review(answer, info)
        if review is None or problem:
            get_run_logger().warning("review of %s not applied: %s", key, problem)
            continue
        try:
            _said(apply_review(settings, job.project, key, review).said)
        except StoryreelError as exc:
            problem = str(exc)
            continue
        if review.decision != "reroll":
            return review.decision
        render(job.model_copy(update={"only": (key,), "force": True, "seed": review.seed, "prompt": review.prompt}), key)


class BatchEntry(BaseModel):
    """One shot of a batch review: plain fields (a take of 0 means the chosen one; an empty
    seed, the next one; an empty prompt, the shot's own)."""

    shot: str
    decision: Literal[DECISIONS] = "approve"  # type: ignore[valid-type]
    take: int = 0
    prompt: str = ""
    seed: str = ""
    notes: str = ""
    anchor: str = ""


class BatchReviewInput(RunInput):
    """The Prefect form for a whole storyboard: one entry per shot."""

    reviewer: str = ""
    reviews: list[BatchEntry] = Field(default_factory=list)


def review_batch(job: RenderJob, keys: list[str], render: Any) -> dict[str, str]:
    """One pause for every shot in ``keys``; re-rolled shots are rendered and asked again, and
    so are shots whose decision could not be applied."""
    settings = load_settings(job.home, job.database_url)
    decisions: dict[str, str] = {}
    problems: dict[str, str] = {}
    while keys:
        infos = {k: shot_info(settings, job.project, k) for k in keys}
        summaries = [review_summary(infos[k], page_url(job.media_url, job.project, k), problems.get(k)) for k in keys]
        # the UI shrinks the summary above a tall form to nothing: the reviewer field's description
        # repeats each shot's verdict and page, one line each
        lines = "\n".join(f"- {batch_help(infos[k], page_url(job.media_url, job.project, k), problems.get(k))}" for k in keys)
        form = create_model("BatchReviewForm", __base__=BatchReviewInput,
                            reviewer=(str, Field(job.reviewer, description=f"who decides\n\n{lines}"))).with_initial_data(
            description="\n\n---\n\n".join(summaries),
            reviews=[BatchEntry(shot=k, take=infos[k]["chosen"] or 0) for k in keys],
        )
        answer = _pause(form, job, keys, batch=True)
        if answer is None:
            decisions.update({k: "timeout" for k in keys})
            return decisions
        problems = {}
        answered = {entry.shot for entry in answer.reviews}
        again = [k for k in keys if k not in answered]  # a shot left out (the review page sends one) is asked again
        seen: set[str] = set()
        for entry in answer.reviews:
            if entry.shot not in keys or entry.shot in seen:
                continue
            seen.add(entry.shot)
            fields = SimpleNamespace(**{**entry.model_dump(), "reviewer": answer.reviewer, "take": entry.take or None})
            review, problem = answer_review(fields, infos[entry.shot])
            if review is None or problem:
                problems[entry.shot] = problem or "not applied"
                again.append(entry.shot)
                continue
            try:
                _said(apply_review(settings, job.project, entry.shot, review).said)
            except StoryreelError as exc:
                problems[entry.shot] = str(exc)
                again.append(entry.shot)
                continue
            decisions[entry.shot] = entry.decision
            if entry.decision == "reroll":
                render(job.model_copy(update={"only": (entry.shot,), "force": True, "seed": review.seed, "prompt": review.prompt}), entry.shot)
                again.append(entry.shot)
        keys = again
    return decisions


def waiting_run(project: str, key: str) -> Any | None:
    """The flow run paused for a review of shot ``key`` of ``project``, if one waits."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType, FlowRunFilterTags
    from prefect.client.schemas.objects import StateType

    runs_filter = FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED])),
                                tags=FlowRunFilterTags(all_=[review_tag(project, key)]))
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=runs_filter, limit=1)
    return runs[0] if runs else None


def _resume(run: Any, run_input: dict[str, Any]) -> str | None:
    """Resume a paused run with a form's input; the reason Prefect refused it, if it did."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.responses import SetStateStatus

    with get_client(sync_client=True) as client:
        result = client.resume_flow_run(run.id, run_input=run_input)
    if result.status == SetStateStatus.ACCEPT:
        return None
    return getattr(result.details, "reason", None) or f"Prefect answered {result.status.value}"


def decide(settings: Any, project: str, key: str, fields: dict[str, str], api_url: str | None = None,
           run: Any | None = None) -> tuple[str, bool]:
    """A decision from the review page: resume the run waiting for this shot with the input its
    form takes, else record it (and queue a re-roll for the render holding the project, or the
    next one). Returns what happened, and whether it was applied.

    Args:
        run: The paused run to resume (default: the one waiting for this shot now). When another
            decision resumed it first, the answer names that decision.
    """
    from prefect.settings import PREFECT_API_URL, temporary_settings

    info = shot_info(settings, project, key)
    answer = SimpleNamespace(decision=fields.get("decision", ""), take=_whole(fields.get("take")), prompt=fields.get("prompt"),
                             seed=fields.get("seed", ""), notes=fields.get("notes", ""), reviewer=fields.get("reviewer", ""),
                             anchor=fields.get("anchor", ""))
    if answer.decision not in DECISIONS:
        return f"decision {answer.decision!r} is not one of {', '.join(DECISIONS)}", False
    review, problem = answer_review(answer, info)
    if review is None or problem:
        return f"Not applied: {problem}", False
    what = f"{review.decision}" + (f" take {review.take}" if review.take else "")
    with temporary_settings({PREFECT_API_URL: api_url} if api_url else {}):
        run = run or (waiting_run(project, key) if api_url or PREFECT_API_URL.value() else None)
        if run is not None:
            refused = _resume(run, _run_input(run, info, review, fields))
            if refused:
                won = _decided_first(settings, project, key, info["last_decision"])
                return f"Not applied: {won or f'the waiting run {run.name} refused it: {refused}'}", False
            return f"Sent to the waiting run {run.name}: {what} of {key}", True
    applied = apply_review(settings, project, key, review)
    if not applied.recorded:
        return applied.said, True
    if review.decision != "reroll":
        return f"Recorded: {what} of {key} (no run was waiting)", True
    from storage.repo import get_project
    from storage.requests import queue_request

    with transaction(settings.database()) as session:
        queue_request(session, get_project(session, project), key, review.seed, review.prompt, False, f"review page ({review.reviewer or 'anonymous'})")
    return f"Queued a new take of {key}: the render holding the project takes it, else the next storyreel render", True


def _decided_first(settings: Any, project: str, key: str, before: dict[str, Any] | None, wait: float = 10.0) -> str | None:
    """The decision that won a race for the same pause (another page or the Prefect UI resumed
    it first), once the run has stored it; None when none is stored within ``wait`` seconds."""
    import time

    deadline = time.monotonic() + wait
    while True:
        last = shot_info(settings, project, key)["last_decision"]
        if last and last != before:
            return f"{key} was decided first: {decision_text(last)}"
        if time.monotonic() > deadline:
            return None
        time.sleep(0.5)


def _whole(text: str | None) -> int | None:
    return int(text) if text and text.strip().isdigit() else None


def _run_input(run: Any, info: dict[str, Any], review: ShotReview, fields: dict[str, str]) -> dict[str, Any]:
    """The input the waiting run's form takes, for this decision: the batch form (this shot's
    entry alone; the others are asked again) or the shot form."""
    seed = fields.get("seed", "").strip()
    if BATCH_TAG in run.tags:
        entry = {"shot": info["shot"], "decision": review.decision, "take": review.take or 0, "prompt": review.prompt or "",
                 "seed": seed, "notes": review.notes, "anchor": review.anchor}
        return {"reviewer": review.reviewer, "reviews": [entry]}
    answer = {"decision": review.decision, "take": review.take or preselected_take(info), "prompt": review.prompt or own_text(info),
              "seed": seed, "notes": review.notes, "reviewer": review.reviewer}
    return {**answer, "anchor": review.anchor} if info["characters"] else answer  # the form has the field only then
