"""Review: paused flows resumed through the API, approve from scripts, the terminal review."""

from __future__ import annotations

import io
import json
import threading
import time

import pytest
import sqlalchemy as sa

from review.decisions import shot_info
from production.store import project_status, transaction
from storage.db import open_database
from storage.schema import Review
from tests.conftest import run_cli
from tests.test_render_flow import BOARD, _render, _takes

pytestmark = pytest.mark.slow


def _paused_run(job, after=None, timeout: float = 120):  # type: ignore[no-untyped-def]
    """The flow run of ``job`` paused for a review; with ``after`` (a run this test resumed), its
    next pause (a new paused state), not the one just answered. Runs of other tests on the same
    server (one killed while paused stays paused) are told apart by their storyboard."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    end = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while time.monotonic() < end:
            runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED]))))
            runs = [r for r in runs if (r.parameters.get("job") or {}).get("storyboard") == job.storyboard
                    and (after is None or r.state.id != after.state.id)]
            if runs:
                return runs[0]
            time.sleep(0.5)
    raise AssertionError("no flow run paused for review")


def _task_names(flow_run_id) -> set[str]:  # type: ignore[no-untyped-def]
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
    return {r.name for r in runs}


def _description(run) -> str:  # type: ignore[no-untyped-def]
    from prefect.client.orchestration import get_client

    keyset = run.state.state_details.run_input_keyset
    with get_client(sync_client=True) as client:
        return client.read_flow_run_input(run.id, keyset["description"])


def _form_schema(run) -> dict:  # type: ignore[no-untyped-def]
    from prefect.client.orchestration import get_client

    keyset = run.state.state_details.run_input_keyset
    with get_client(sync_client=True) as client:
        return client.read_flow_run_input(run.id, keyset["schema"])


def test_flow_pauses_for_review_and_resumes_with_inputs(prefect_harness, film: dict) -> None:
    from prefect.flow_runs import resume_flow_run

    board = BOARD.replace("max_takes: 2", "max_takes: 1").replace(", thresholds: {flicker: 1.01}", "")
    (film["folder"] / "storyboard.yaml").write_text(board)
    job = film["job"].model_copy(update={"review": "shot", "review_poll": 1, "media_url": "http://127.0.0.1:8765", "reviewer": "ed"})
    from flows.render_flow import render_flow

    out: dict = {}
    thread = threading.Thread(target=lambda: out.update(state=render_flow(job, return_state=True)))
    thread.start()
    # shot a: the form is plain fields, prefilled; the summary is short and links the review page
    run = _paused_run(job)
    text = _description(run)
    assert "**Shot a: take 1 of 1, passed**" in text and "(http://127.0.0.1:8765/review/film/a)" in text
    assert "storyreel-review:film:a" in run.tags
    schema = json.loads(_form_schema(run))
    props = schema["properties"]
    # the first field repeats the verdict and the page (the UI may shrink the summary away), the take field the scores
    assert props["decision"]["description"].startswith("Shot a: take 1 of 1, passed — review page: http://127.0.0.1:8765/review/film/a")
    assert props["take"]["description"].startswith("the take to approve — take 1: ") and "flicker" in props["take"]["description"]
    assert props["decision"]["enum"] == ["approve", "reject", "reroll"] and props["take"]["enum"] == [1]
    assert props["prompt"]["default"] == "a red circle moves right"  # the shot's own text, not the composed prompt
    assert props["reviewer"]["default"] == "ed" and props["seed"]["type"] == "string"
    assert props["anchor"]["enum"] == ["", "red"] and props["anchor"]["default"] == ""  # shot a's character
    assert not any("anyOf" in p for p in props.values())  # no "int | None" toggles
    # take 99 is refused by the form's schema: the run stays paused, asking again
    with pytest.raises(RuntimeError, match="take"):
        resume_flow_run(run.id, run_input={"decision": "approve", "take": 99})
    # a seed out of range passes the form (it is text) and is asked again with the reason
    resume_flow_run(run.id, run_input={"decision": "reroll", "seed": "99999999999"})
    run = _paused_run(job, after=run)
    assert "out of range" in _description(run) and "out of range" in json.loads(_form_schema(run))["properties"]["decision"]["description"]
    # re-roll with an edited prompt and a seed, then approve the new take
    resume_flow_run(run.id, run_input={"decision": "reroll", "seed": "1234", "prompt": "a red circle moves left",
                                       "notes": "try again", "reviewer": "ed"})
    run = _paused_run(job, after=run)
    assert "take 2 of 2" in _description(run)
    resume_flow_run(run.id, run_input={"decision": "approve", "take": 2, "reviewer": "ed", "anchor": "red"})
    # shot b: reject → the chain ends there; shot c (next chain): approve
    run = _paused_run(job, after=run)
    resume_flow_run(run.id, run_input={"decision": "reject", "notes": "wrong", "reviewer": "ed"})
    run = _paused_run(job, after=run)
    resume_flow_run(run.id, run_input={"decision": "approve"})
    thread.join(180)
    state = out["state"]
    summary = state.result()
    # a run that leaves a shot rejected completes as "Incomplete", naming it; its tasks are named by shot
    assert state.is_completed() and state.name == "Incomplete" and "not finished" in state.message and "b" in state.message, state
    assert {"render-a", "render-b", "render-c"} <= _task_names(run.id)
    assert summary["reviews"] == {"a": "approve", "b": "reject", "c": "approve"}
    assert summary["remaining"] == {"rejected": ["b"]}  # not a plain success: it names what remains
    takes = _takes(film)
    assert [t.seed for t in takes["a"]][1] == 1234
    # The edited text is the shot's own: the style and the character are composed around it.
    reroll_prompt = takes["a"][1].params["prompt"]
    assert reroll_prompt == "a red circle. a red circle moves left."  # as take 1: "a red circle. a red circle moves right."
    assert takes["a"][1].params["action"] == "a red circle moves left"
    rows = {r["id"]: r for r in project_status(film["settings"], "film")}
    assert (rows["a"]["status"], rows["a"]["chosen_take"]) == ("approved", 2)
    anchor = rows["a"]["anchors"]["red"]  # the form's anchor field: red is judged against take 2 of a now
    assert (anchor["shot"], anchor["take"], anchor["set_by"]) == ("a", 2, "person:ed")
    assert rows["b"]["status"] == "rejected" and rows["b"]["chosen_take"] is None
    assert rows["b"]["review"]["decision"] == "reject" and rows["b"]["review"]["notes"] == "wrong" and rows["b"]["review"]["reviewer"] == "ed"
    assert summary["cut"] is None  # a rejected shot leaves no complete cut
    with transaction(open_database(film["url"])) as s:
        decisions = [(r.decision, r.reviewer, r.notes) for r in s.scalars(sa.select(Review).order_by(Review.id))]
    assert decisions[:2] == [("reroll", "ed", "try again"), ("approve", "ed", "")]
    assert ("reject", "ed", "wrong") in decisions

    # The next render asks nothing about approved shots and renders the rejected one anew.
    out = {}
    thread = threading.Thread(target=lambda: out.update(summary=_render(job)))
    thread.start()
    run = _paused_run(job)
    assert "storyreel-review:film:b" in run.tags and "**Shot b: take 2 of 2" in _description(run)
    resume_flow_run(run.id, run_input={"decision": "approve", "take": 2})
    thread.join(180)
    assert out["summary"]["reviews"] == {"b": "approve"}  # a and c were not asked again
    b_takes = _takes(film)["b"]
    assert len(b_takes) == 2 and b_takes[1].seed != b_takes[0].seed  # rendered anew, with a new seed
    assert out["summary"]["cut"] is not None and not out["summary"]["remaining"]


def test_review_timeout_leaves_shots_scored(prefect_harness, film: dict) -> None:
    job = film["job"].model_copy(update={"review": "batch", "review_timeout": 2, "review_poll": 1})
    summary = _render(job)
    assert set(summary["reviews"].values()) == {"timeout"}
    rows = {r["id"]: r for r in project_status(film["settings"], "film")}
    assert {r["status"] for r in rows.values()} == {"scored"}


def test_batch_review_one_pause_for_every_shot(prefect_harness, film: dict) -> None:
    from prefect.flow_runs import resume_flow_run

    job = film["job"].model_copy(update={"review": "batch", "review_poll": 1})
    out: dict = {}
    thread = threading.Thread(target=lambda: out.update(summary=_render(job)))
    thread.start()
    run = _paused_run(job)
    text = _description(run)
    assert all(f"**Shot {k}:" in text for k in "abc")
    who = json.loads(_form_schema(run))["properties"]["reviewer"]["description"]  # in view however tall the form
    assert all(f"- Shot {k}: take 1 of" in who for k in "abc")
    # take 99 of b is not there: a and c are applied, b is asked again with the reason
    resume_flow_run(run.id, run_input={"reviewer": "jo", "reviews": [{"shot": "a", "decision": "approve"}, {"shot": "b", "decision": "approve", "take": 99}, {"shot": "c", "decision": "approve"}]})
    run = _paused_run(job, after=run)
    assert "take 99 cannot be approved" in _description(run) and "**Shot a:" not in _description(run)
    assert "- Not applied: take 99 cannot be approved" in json.loads(_form_schema(run))["properties"]["reviewer"]["description"]
    resume_flow_run(run.id, run_input={"reviewer": "jo", "reviews": [{"shot": "b", "decision": "approve", "take": 1}]})
    thread.join(120)
    assert out["summary"]["reviews"] == {"a": "approve", "b": "approve", "c": "approve"}
    assert out["summary"]["cut"]["frames"] == 39  # every shot approved: the cut is made


def test_approve_and_terminal_review(prefect_harness, film: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    _render(film["job"].model_copy(update={"export": False}))
    home = str(film["home"])
    monkeypatch.setenv("STORYREEL_DATABASE_URL", film["url"])
    code, out, err = run_cli("approve", "film", "b", "1", "--notes", "fine", "--home", home)
    assert code == 0, err
    assert shot_info(film["settings"], "film", "b")["chosen"] == 1
    code, _, err = run_cli("approve", "film", "zz", "--home", home)
    assert code == 2 and "has no shot 'zz'" in err
    # terminal review of what is left (a, c): reject a, approve c's take 1
    monkeypatch.setattr("sys.stdin", io.StringIO("r\nnot right\nt1\n\n"))
    code, out, err = run_cli("review", "film", "--reviewer", "kim", "--home", home)
    assert code == 0, err
    rows = {r["id"]: r for r in project_status(film["settings"], "film")}
    assert (rows["a"]["status"], rows["c"]["status"]) == ("rejected", "approved")
    assert rows["b"]["status"] == "stale" and rows["b"]["stale_reason"] == "upstream a has no chosen take"
