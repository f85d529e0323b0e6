"""The director's review in a real Chromium: takes compared on one clock, decisions from the
keyboard, who decided and what was recorded, the project's timeline against the OTIO export,
and the Prefect form at 1280×800 (a real `storyreel server` with its UI)."""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from production.store import transaction
from review.media import serve_in_thread
from review.page import review_routes
from storage.db import open_database
from storage.schema import Review, Shot, Take
from tests.conftest import FILM_BOARD, ROOT, run_cli
from tests.test_render_flow import _render
from tests.test_review import _paused_run
from tests.test_review_page import _decide, _request, browser  # noqa: F401  (the browser fixture)

pytestmark = pytest.mark.slow


@pytest.fixture
def rendered(prefect_harness, film: dict) -> Iterator[dict]:  # type: ignore[no-untyped-def]
    """The film rendered without a review (shot b has two takes), and the review pages over it,
    started as `storyreel server --reviewer mara` starts them."""
    from prefect.settings import PREFECT_API_URL

    from flows.review_flow import decide

    _render(film["job"].model_copy(update={"export": True}))
    server = serve_in_thread(film["home"], port=0, routes=review_routes(film["settings"], functools.partial(decide, api_url=PREFECT_API_URL.value()), "mara"))
    yield {**film, "base": f"http://127.0.0.1:{server.server_address[1]}"}
    server.shutdown()


def _reviews(film: dict) -> list[tuple[str, str, int | None, str, str]]:
    with transaction(open_database(film["url"])) as s:
        return [(s.get(Shot, r.shot_id).key, r.decision, s.get(Take, r.take_id).attempt if r.take_id else None, r.reviewer, r.notes)
                for r in s.scalars(sa.select(Review).order_by(Review.id))]


def _times(tab) -> list[float]:  # type: ignore[no-untyped-def]
    tab.wait_for_function("[...document.querySelectorAll('video.sync')].every(v => v.readyState >= 2 && !v.seeking)", timeout=30_000)
    return tab.evaluate("[...document.querySelectorAll('video.sync')].map(v => v.currentTime)")


def test_one_clock_moves_every_take_and_the_decisions_stay_in_view(rendered: dict, browser) -> None:  # type: ignore[no-untyped-def]
    tab = browser.new_page(viewport={"width": 1280, "height": 800})
    tab.goto(f"{rendered['base']}/review/film/b")
    times = _times(tab)
    assert len(times) == 4  # two takes, and both again in the A/B wipe
    # scrub: every take (and both sides of the wipe) goes to the same frame
    tab.evaluate("() => { const s = document.querySelector('#scrub'); s.value = 7; s.dispatchEvent(new Event('input')); }")
    assert _times(tab) == [pytest.approx(7.5 / 16, abs=1e-3)] * 4
    tab.keyboard.press("ArrowRight")
    assert _times(tab) == [pytest.approx(8.5 / 16, abs=1e-3)] * 4
    assert tab.locator("#frame").inner_text() == f"frame 9 / {tab.locator('#compare').get_attribute('data-frames')}"
    tab.keyboard.press("ArrowLeft")
    tab.keyboard.press("ArrowLeft")
    assert _times(tab) == [pytest.approx(6.5 / 16, abs=1e-3)] * 4
    # Space plays every take; Space again pauses them all on one frame
    tab.keyboard.press(" ")
    tab.wait_for_function("[...document.querySelectorAll('video.sync')].every(v => !v.paused)", timeout=10_000)
    time.sleep(0.5)
    tab.keyboard.press(" ")
    tab.wait_for_function("[...document.querySelectorAll('video.sync')].every(v => v.paused)", timeout=10_000)
    playing = _times(tab)
    assert max(playing) - min(playing) < 1.01 / 16, playing
    tab.click("#back")  # a button has the focus now: the keys still drive the page
    frame = int(tab.locator("#scrub").input_value())
    tab.keyboard.press("ArrowRight")
    assert _times(tab) == [pytest.approx((frame + 1.5) / 16, abs=1e-3)] * 4
    # the wipe: B over A, cut where the slider is
    tab.evaluate("() => { const w = document.querySelector('#wipe-at'); w.value = 30; w.dispatchEvent(new Event('input')); }")
    assert tab.evaluate("document.querySelector('video.b').style.clipPath") == "inset(0px 0px 0px 30%)"
    # both cards in one row, each with its contact sheet; the decisions in view at the bottom of the page
    boxes = [tab.locator(f"#take-{n}").bounding_box() for n in (1, 2)]
    assert boxes[0]["y"] == boxes[1]["y"] and boxes[0]["x"] + boxes[0]["width"] <= boxes[1]["x"]
    assert tab.evaluate("[...document.querySelectorAll('img.sheet')].map(i => i.naturalWidth > 0)") == [True, True]
    tab.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    button = tab.locator("#approve-picked").bounding_box()
    assert button is not None and 0 <= button["y"] and button["y"] + button["height"] <= 800
    # what the shot started from, beside its first frame
    captions = tab.locator("figcaption").all_inner_texts()
    assert captions[0] == "hand-off from a" and captions[-1].endswith(": first frame")


def test_keyboard_decisions_name_the_reviewer_and_are_recorded_once(rendered: dict, browser) -> None:  # type: ignore[no-untyped-def]
    tab = browser.new_page(viewport={"width": 1280, "height": 800})
    tab.goto(f"{rendered['base']}/review/film/a")
    assert "reviewing as mara" in tab.locator("header").inner_text()
    tab.keyboard.press("?")
    assert tab.locator("dialog#keys").is_visible() and "approve the picked take" in tab.locator("dialog#keys").inner_text()
    tab.keyboard.press("Escape")
    tab.locator("dialog#keys").wait_for(state="hidden")
    tab.keyboard.press("1")
    with tab.expect_navigation():
        tab.keyboard.press("a")
    assert "Recorded: approve take 1 of a" in tab.locator("[role=status]").inner_text()
    assert _reviews(rendered) == [("a", "approve", 1, "mara", "")]
    with tab.expect_navigation():  # the same approval again: nothing recorded, and the page says so
        tab.keyboard.press("a")
    assert "a: take 1 is already approved by mara; nothing recorded" in tab.locator("[role=status]").inner_text()
    assert len(_reviews(rendered)) == 1
    with tab.expect_navigation():
        tab.keyboard.press("n")
    assert tab.url.endswith("/review/film/b")
    picked = int(tab.locator("#approve-take").input_value())
    tab.fill("#reject-form textarea", "too dark")
    tab.locator("body").click(position={"x": 5, "y": 5})
    with tab.expect_navigation():
        tab.keyboard.press("r")
    assert _reviews(rendered)[-1] == ("b", "reject", picked, "mara", "too dark")
    rejected = tab.locator(f"#take-{picked}")
    assert "rejected by mara" in rejected.inner_text() and "too dark" in rejected.inner_text()
    assert tab.locator(f"button[data-approve='{picked}']").count() == 0
    assert tab.locator("button[data-approve]").count() == 1  # the other take can still be approved
    # a banner only for what this server said: text in the URL is not shown
    tab.goto(f"{rendered['base']}/review/film/a?said=Approved%20by%20the%20producer")
    assert tab.locator("[role=status]").count() == 0 and "producer" not in tab.content()


def test_the_project_page_shows_the_cut_and_its_timeline_as_the_otio_export_has_it(rendered: dict, tmp_path: Path) -> None:
    import opentimelineio as otio

    code, out, err = run_cli("export", "film", "--home", str(rendered["home"]), "--otio", str(tmp_path / "cut.otio"), "--allow-unapproved", "--json")
    assert code == 0, err
    exported = json.loads(out)
    assert exported["unchanged"] is True  # the render's cut: reported, not written again
    status, html, _ = _request(rendered["base"], "GET", "/review/film")
    assert status == 200
    clips = [(m[0], int(m[1]), int(m[2]), int(m[3])) for m in
             re.findall(r'class="clip[^"]*"[^>]*data-shot="([^"]+)" data-take="(\d+)" data-start="(\d+)" data-frames="(\d+)"', html)]
    joins = re.findall(r'data-transition="([^"]+)"', html)
    timeline = otio.adapters.read_from_file(str(tmp_path / "cut.otio"))
    track = timeline.tracks[0]
    want = [(c.metadata["storyreel"]["shot"], c.metadata["storyreel"]["take"], c.metadata["storyreel"]["record_start"])
            for c in track if isinstance(c, otio.schema.Clip)]
    assert [c[:3] for c in clips] == want and [c[0] for c in clips] == ["a", "b", "c"]
    fades = [round((t.in_offset + t.out_offset).value) for t in track if isinstance(t, otio.schema.Transition)]
    assert joins == ["crossfade:4", "cut"] and fades == [4]
    assert sum(c[3] for c in clips) - sum(fades) == round(track.duration().value) == exported["frames"]
    assert f'<video src="/film/cuts/cut-{exported["number"]:03d}.mp4"' in html
    assert re.search(r'data-shot="a"[^>]*>.*?take 1 of 1', html)
    # every project from /, and a 404 that links back
    status, index, _ = _request(rendered["base"], "GET", "/")
    assert status == 200 and 'href="/review/film"' in index
    status, missing, _ = _request(rendered["base"], "GET", "/review/film/zz")
    assert status == 404 and 'href="/review/film"' in missing and 'href="/"' in missing


def test_a_lost_race_names_the_decision_that_won(prefect_harness, film: dict) -> None:  # type: ignore[no-untyped-def]
    import threading

    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL

    from flows.review_flow import decide

    job = film["job"].model_copy(update={"review": "shot", "review_poll": 1, "only": ("a",), "export": False})
    thread = threading.Thread(target=_render, args=(job,))
    thread.start()
    run = _paused_run(job)
    with get_client(sync_client=True) as client:  # the Prefect UI's Resume, first
        client.resume_flow_run(run.id, run_input={"decision": "approve", "take": 1, "prompt": "", "seed": "", "notes": "",
                                                  "reviewer": "ines", "anchor": ""})
    # the page's post, for the pause it was showing
    said, ok = decide(film["settings"], "film", "a", {"decision": "reject", "reviewer": "mara"}, api_url=PREFECT_API_URL.value(), run=run)
    thread.join(180)
    assert not ok and said.startswith("Not applied: a was decided first: approve take 1 by ines"), said


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_prefect_form_keeps_the_page_and_verdict_in_view_at_1280x800(tmp_path: Path, demo_home: Path, browser) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "film"
    folder.mkdir()
    (folder / "storyboard.yaml").write_text(FILM_BOARD.replace("  audio: bed.wav\n", ""))
    ui, media = _free_port(), _free_port()
    api = f"http://127.0.0.1:{ui}/api"
    env = {**os.environ, "STORYREEL_HOME": str(demo_home), "STORYREEL_DATABASE_URL": f"sqlite:///{demo_home / 'storyreel.db'}",
           "PREFECT_API_URL": api, "STORYREEL_MEDIA_URL": f"http://127.0.0.1:{media}", "PREFECT_HOME": str(tmp_path / "prefect"),
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "HF_HUB_OFFLINE": "1", "PREFECT_LOGGING_LEVEL": "ERROR"}
    exe = [str(Path(sys.executable).parent / "storyreel")]
    server = subprocess.Popen([*exe, "server", "--port", str(ui), "--media-port", str(media), "--reviewer", "ines"], env=env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    render = None
    try:
        end = time.monotonic() + 180
        while True:
            try:
                if urllib.request.urlopen(f"{api}/health", timeout=5).status == 200:
                    break
            except OSError:
                assert time.monotonic() < end, "the Prefect server did not start"
                time.sleep(1)
        render = subprocess.Popen([*exe, "render", str(folder / "storyboard.yaml"), "--review", "shot", "--reviewer", "mara"], env=env,
                                  cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        tab = browser.new_page(viewport={"width": 1280, "height": 800})
        runs = f"http://127.0.0.1:{ui}/runs"
        end = time.monotonic() + 300
        run_id = None
        while run_id is None and time.monotonic() < end:
            found = json.loads(urllib.request.urlopen(urllib.request.Request(
                f"{api}/flow_runs/filter", data=json.dumps({"flow_runs": {"state": {"type": {"any_": ["PAUSED"]}}}}).encode(),
                headers={"Content-Type": "application/json"}), timeout=10).read())
            run_id = found[0]["id"] if found else None
            time.sleep(1)
        assert run_id, "no run paused for a review"
        page = urllib.request.urlopen(f"http://127.0.0.1:{media}/review/film/a", timeout=30).read().decode()
        assert "reviewing as ines" in page  # storyreel server --reviewer: who decides on its pages
        tab.goto(f"{runs}/flow-run/{run_id}")
        tab.get_by_role("button", name="Resume").first.click(timeout=120_000)
        link = tab.locator(f".p-modal a[href='http://127.0.0.1:{media}/review/film/a']").last
        link.wait_for(timeout=60_000)
        box = link.bounding_box()
        assert box is not None and box["height"] > 0 and box["y"] + box["height"] <= 800
        verdict = tab.get_by_text(re.compile(r"Shot a: take 1 of 1")).last
        assert verdict.bounding_box()["height"] > 0
        tab.locator(".p-modal").get_by_role("button", name="Submit").click()
        end = time.monotonic() + 120
        while time.monotonic() < end:  # the run applies the form's decision
            code, out, _ = run_cli("status", "film", "--home", str(demo_home), "--json")
            if code == 0 and {r["id"]: r for r in json.loads(out)}["a"]["status"] == "approved":
                break
            time.sleep(1)
    finally:
        for process in (render, server):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(60)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
    said = "".join(stream.read() for stream in (render.stdout, render.stderr) if stream) if render else ""
    assert "a: approved take 1 by mara" in said, said[-2000:]  # the terminal says which decision was applied
    shutil.rmtree(tmp_path / "prefect", ignore_errors=True)
