"""The review page on the media server: takes side by side, decisions that resume the waiting
flow run (or are recorded and queued when none waits), and the same in a real Chromium."""

from __future__ import annotations

import functools
import http.client
import os
import json
import re
import shutil
import threading
import time
from collections.abc import Iterator
from html import unescape
from urllib.parse import urlencode, urlsplit

import pytest
import sqlalchemy as sa

from review.media import serve_in_thread
from review.page import review_routes
from production.store import project_status, transaction
from storage.db import open_database
from storage.schema import RenderRequest, Review, Shot, Take
from tests.conftest import run_cli
from tests.test_render_flow import _render, _takes
from tests.test_review import _paused_run

pytestmark = pytest.mark.slow


@pytest.fixture
def page(prefect_harness, film: dict) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The media server with the review pages over the film's home; its base URL."""
    from prefect.settings import PREFECT_API_URL

    from flows.review_flow import decide

    server = serve_in_thread(film["home"], port=0, routes=review_routes(film["settings"], functools.partial(decide, api_url=PREFECT_API_URL.value()), os.environ.get("STORYREEL_REVIEWER", "")))
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _request(base: str, method: str, path: str, form: dict[str, str] | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, str, dict[str, str]]:
    url = urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    body = urlencode(form) if form is not None else None
    sent = {"Content-Type": "application/x-www-form-urlencoded", "Origin": base} if form is not None else {}
    conn.request(method, path, body=body, headers={**sent, **(headers or {})})
    response = conn.getresponse()
    return response.status, response.read().decode("utf-8", "replace"), {k.lower(): v for k, v in response.getheaders()}


def _decide(base: str, path: str, **form: str) -> str:
    """POST a decision as the page's buttons do; returns the message the page shows after."""
    status, _, headers = _request(base, "POST", path, form)
    assert status == 303, status
    _, html, _ = _request(base, "GET", headers["location"])
    said = re.search(r'role="status">([^<]*)</div>', html)
    return unescape(said.group(1)) if said else ""


def _start(job) -> tuple[threading.Thread, dict]:  # type: ignore[no-untyped-def]
    out: dict = {}
    thread = threading.Thread(target=lambda: out.update(summary=_render(job)))
    thread.start()
    return thread, out


def _reviews(film: dict) -> list[tuple[str, str, str]]:
    with transaction(open_database(film["url"])) as s:
        return [(s.get(Shot, r.shot_id).key, r.decision, r.reviewer) for r in s.scalars(sa.select(Review).order_by(Review.id))]


def test_review_page_shows_takes_and_its_decisions_resume_the_waiting_run(page: str, film: dict) -> None:
    job = film["job"].model_copy(update={"review": "shot", "review_poll": 1, "media_url": page})
    thread, out = _start(job)
    run = _paused_run(job)
    assert "storyreel-review:film:a" in run.tags
    # the shot's page: a looping player per take with its prompt, seed and scores; a seekable source
    status, html, _ = _request(page, "GET", "/review/film/a")
    assert status == 200
    videos = re.findall(r'<video class="sync" src="([^"]+)"[^>]*\bloop\b[^>]*data-take', html)
    assert videos == ["/film/takes/a/take-001.mp4"] and "a red circle. a red circle moves right." in html
    seed = _takes(film)["a"][0].seed
    assert "Approve take 1" in html and f"seed</span> {seed}<" in html and "flicker" in html and "✓" in html
    status, body, headers = _request(page, "GET", videos[0], headers={"Range": "bytes=0-99"})
    assert status == 206 and headers["content-range"].startswith("bytes 0-99/")
    assert _request(page, "GET", "/review/film")[0] == 200
    assert _request(page, "GET", "/review/film/zz")[0] == 404
    # a decision from another site is refused; a take that is not there is not applied
    assert _request(page, "POST", "/review/film/a", {"decision": "approve", "take": "1"}, {"Origin": "http://evil.example"})[0] == 403
    assert _decide(page, "/review/film/a", decision="approve", take="99").startswith("Not applied: take 99 cannot be approved")
    assert _decide(page, "/review/film/a", decision="approve", take="1", anchor="zz").startswith(
        "Not applied: 'zz' cannot be anchored on shot a: its characters are red")
    assert "an anchor is set with an approval" in _decide(page, "/review/film/a", decision="reject", anchor="red")
    assert "and make it red's anchor" in html
    assert _paused_run(job).id == run.id and _reviews(film) == []
    # approve → the waiting run resumes with the form's input and stores the Review itself
    said = _decide(page, "/review/film/a", decision="approve", take="1", reviewer="mara")
    assert said.startswith("Sent to the waiting run") and "approve take 1 of a" in said
    run_b = _paused_run(job)
    while "storyreel-review:film:b" not in run_b.tags:
        time.sleep(0.5)
        run_b = _paused_run(job)
    assert _reviews(film) == [("a", "approve", "mara")]
    # shot b has two takes (its flicker threshold fails both): side by side, the better chosen
    html = _request(page, "GET", "/review/film/b")[1]
    assert len(re.findall(r"<video [^>]*data-take", html)) == 2 and "failed checks" in html and "✗ failed" in html
    assert "hand-off from a" in html and re.search(r"/film/takes/b/take-00[12]\.start\.png", html)
    assert re.search(r"/film/takes/b/take-00[12]\.first\.png", html)
    said = _decide(page, "/review/film/b", decision="reject", notes="too dark", reviewer="mara")
    assert said.startswith("Sent to the waiting run")
    time.sleep(1.5)
    assert "storyreel-review:film:c" in _paused_run(job).tags
    _decide(page, "/review/film/c", decision="approve", reviewer="mara")
    thread.join(180)
    assert out["summary"]["reviews"] == {"a": "approve", "b": "reject", "c": "approve"}
    # no run waits now: a decision is recorded, and a re-roll queued for the next render
    said = _decide(page, "/review/film/b", decision="reroll", prompt="a red circle shrinks", seed="77", reviewer="mara")
    assert said.startswith("Queued a new take of b")
    with transaction(open_database(film["url"])) as s:
        request = s.scalars(sa.select(RenderRequest)).one()
        assert (request.shot_key, request.prompt, request.seed, request.status) == ("b", "a red circle shrinks", 77, "queued")
    assert _reviews(film)[-1] == ("b", "reroll", "mara")
    said = _decide(page, "/review/film/a", decision="approve", take="1", anchor="red", reviewer="mara")
    assert said.startswith("Recorded: approve take 1 of a")
    rows = {r["id"]: r for r in project_status(film["settings"], "film")}
    assert rows["b"]["review"]["decision"] == "reroll" and rows["a"]["review"]["reviewer"] == "mara"
    red = rows["a"]["anchors"]["red"]
    assert (red["shot"], red["take"], red["set_by"]) == ("a", 1, "person:mara")
    html = _request(page, "GET", "/review/film")[1]
    assert "reroll by mara" in html and "approve take 1 by mara" in html
    code, out, _ = run_cli("status", "film", "--home", str(film["home"]), "--json")
    last = {row["id"]: row["review"] for row in json.loads(out)}["b"]
    assert code == 0 and (last["decision"], last["reviewer"], last["notes"]) == ("reroll", "mara", "") and last["at"]
    code, out, _ = run_cli("status", "film", "--home", str(film["home"]))
    assert code == 0 and "last" in out and "reroll" in out


def _chromium() -> str | None:
    """Why the browser tests cannot run here (None when they can)."""
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the Python package 'playwright' is not installed (pip install -e '.[test]')"
    if not shutil.which("chromium"):
        return "the Debian package 'chromium' is not installed (.ci/run installs it: apt-get install chromium)"
    return None


@pytest.fixture
def browser() -> Iterator[object]:
    missing = _chromium()
    if missing:
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"])
        yield chromium
        chromium.close()


def test_a_reviewer_in_chromium_plays_seeks_and_approves_take_2(page: str, film: dict, browser) -> None:  # type: ignore[no-untyped-def]
    job = film["job"].model_copy(update={"review": "shot", "review_poll": 1, "media_url": page})
    thread, out = _start(job)
    tab = browser.new_page(viewport={"width": 1280, "height": 900})
    _paused_run(job)
    tab.goto(f"{page}/review/film/a")
    tab.click("button[data-approve='1']")
    assert "Sent to the waiting run" in tab.locator("[role=status]").inner_text()
    run = _paused_run(job)
    while "storyreel-review:film:b" not in run.tags:
        time.sleep(0.5)
        run = _paused_run(job)
    tab.goto(f"{page}/review/film/b")
    # both takes play, and each player can seek across its whole clip (the server answers Range)
    tab.wait_for_function("[...document.querySelectorAll('video[data-take]')].every(v => v.readyState >= 1)", timeout=30_000)
    players = tab.evaluate("""[...document.querySelectorAll('video[data-take]')].map(v => ({
        take: v.dataset.take, duration: v.duration, loop: v.loop,
        seekable: v.seekable.length ? [v.seekable.start(0), v.seekable.end(0)] : null}))""")
    assert sorted(p["take"] for p in players) == ["1", "2"]
    for player in players:
        assert player["loop"] and player["duration"] > 0.5
        assert player["seekable"] == [0, pytest.approx(player["duration"], abs=0.05)]
    seeked = tab.evaluate("""async () => {
        const v = document.querySelector('video[data-take="2"]');
        v.pause(); v.currentTime = 0.5;
        await new Promise(done => v.addEventListener('seeked', done, {once: true}));
        return v.currentTime; }""")
    assert seeked == pytest.approx(0.5, abs=0.07)
    tab.click("button[data-approve='2']")
    assert "Sent to the waiting run" in tab.locator("[role=status]").inner_text()
    time.sleep(1.5)
    tab.goto(f"{page}/review/film/c")
    tab.click("button[data-approve='1']")
    thread.join(180)
    assert out["summary"]["reviews"] == {"a": "approve", "b": "approve", "c": "approve"}
    with transaction(open_database(film["url"])) as s:
        review = s.scalars(sa.select(Review).where(Review.decision == "approve").order_by(Review.id)).all()[1]
        assert (s.get(Shot, review.shot_id).key, s.get(Take, review.take_id).attempt) == ("b", 2)
    rows = {r["id"]: r for r in project_status(film["settings"], "film")}
    assert (rows["b"]["status"], rows["b"]["chosen_take"]) == ("approved", 2)
