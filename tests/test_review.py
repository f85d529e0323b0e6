"""Review: paused flows resumed through the API, approve from scripts, the terminal review."""

from __future__ import annotations

import io
import threading
import time

import pytest
import sqlalchemy as sa

from flows.review import shot_info
from flows.store import project_status, transaction
from storage.db import open_database
from storage.schema import Review
from tests.conftest import run_cli
from tests.test_render_flow import BOARD, _render, _takes

pytestmark = pytest.mark.slow


def _paused_run(timeout: float = 120):  # type: ignore[no-untyped-def]
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
            if runs:
                return runs[0]
            time.sleep(0.5)
    raise AssertionError("no flow run paused for review")


def _description(run) -> str:  # type: ignore[no-untyped-def]
    from prefect.client.orchestration import get_client

    keyset = run.state.state_details.run_input_keyset
    with get_client(sync_client=True) as client:
        return client.read_flow_run_input(run.id, keyset["description"])


def test_flow_pauses_for_review_and_resumes_with_inputs(prefect_harness, film: dict) -> None:
    from prefect.flow_runs import resume_flow_run

    board = BOARD.replace("max_takes: 2", "max_takes: 1").replace(", thresholds: {flicker: 1.01}", "")
    (film["folder"] / "storyboard.yaml").write_text(board)
    job = film["job"].model_copy(update={"review": "shot", "review_poll": 1, "media_url": "http://127.0.0.1:8765"})
    out: dict = {}
    thread = threading.Thread(target=lambda: out.update(summary=_render(job)))
    thread.start()
    # shot a: re-roll with a new seed, then approve the new take
    run = _paused_run()
    text = _description(run)
    assert "Shot `a`" in text and "![contact sheet of take 1](http://127.0.0.1:8765/film/takes/a/take-001.sheet.png)" in text
    resume_flow_run(run.id, run_input={"decision": "reroll", "seed": 1234, "notes": "try again", "reviewer": "ed"})
    time.sleep(1.5)
    run = _paused_run()
    assert "take 2" in _description(run)
    resume_flow_run(run.id, run_input={"decision": "approve", "reviewer": "ed"})
    # shot b: reject → the chain ends there; shot c (next chain): approve
    time.sleep(1.5)
    resume_flow_run(_paused_run().id, run_input={"decision": "reject", "notes": "wrong", "reviewer": "ed"})
    time.sleep(1.5)
    resume_flow_run(_paused_run().id, run_input={"decision": "approve"})
    thread.join(180)
    summary = out["summary"]
    assert summary["reviews"] == {"a": "approve", "b": "reject", "c": "approve"}
    takes = _takes(film)
    assert [t.seed for t in takes["a"]][1] == 1234
    rows = {r["id"]: r for r in project_status(film["settings"], "film")}
    assert (rows["a"]["status"], rows["a"]["chosen_take"]) == ("approved", 2)
    assert rows["b"]["status"] == "rejected" and rows["b"]["chosen_take"] is None
    assert summary["cut"] is None  # a rejected shot leaves no complete cut
    with transaction(open_database(film["url"])) as s:
        decisions = [(r.decision, r.reviewer, r.notes) for r in s.scalars(sa.select(Review).order_by(Review.id))]
    assert decisions[:2] == [("reroll", "ed", "try again"), ("approve", "ed", "")]
    assert ("reject", "ed", "wrong") in decisions


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
    run = _paused_run()
    text = _description(run)
    assert all(f"Shot `{k}`" in text for k in "abc")
    resume_flow_run(run.id, run_input={"reviewer": "jo", "reviews": [{"shot": "a", "decision": "approve"}, {"shot": "b", "decision": "approve", "take": 1}, {"shot": "c", "decision": "approve"}]})
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
