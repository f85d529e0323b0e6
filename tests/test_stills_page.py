"""The keyframe review page in a real Chromium: sheets and keyframes per scene, approve and
reject per take, a re-roll with an edited prompt and seed — the same rows as the commands."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from flows.settings import load_settings
from production.store import transaction
from review.media import serve_in_thread
from review.stills_page import stills_routes
from storage.db import open_database
from storage.repo import get_project
from storage.stills import project_stills
from tests.test_review_page import _chromium, _decide, _request
from tests.test_stills import BOARD, _keyframes

pytestmark = pytest.mark.slow


@pytest.fixture
def stills(tmp_path: Path, demo_home: Path) -> Iterator[dict]:
    folder = tmp_path / "film"
    folder.mkdir()
    (folder / "storyboard.yaml").write_text(BOARD)
    board = {"path": folder / "storyboard.yaml", "home": demo_home, "url": f"sqlite:///{demo_home / 'storyreel.db'}"}
    _keyframes(board)
    server = serve_in_thread(demo_home, port=0, routes=stills_routes(load_settings(demo_home, board["url"]), "mara"))
    yield {**board, "base": f"http://127.0.0.1:{server.server_address[1]}"}
    server.shutdown()


def _rows(board: dict) -> dict[tuple[str, str, int], object]:
    with transaction(open_database(board["url"])) as session:
        return {(s.subject, s.role, s.attempt): s for s in project_stills(session, get_project(session, "film"))}


def test_a_reviewer_approves_keyframes_in_chromium(stills: dict) -> None:
    missing = _chromium()
    if missing:
        pytest.skip(missing)
    import shutil

    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
        tab = browser.new_page(viewport={"width": 1280, "height": 800})
        tab.goto(f"{stills['base']}/keyframes/film")
        headings = tab.locator("h2").all_inner_texts()
        assert headings == ["Character sheets", "Scene one", "Scene two"]
        assert tab.locator(".still img").count() == 8  # 6 sheet views, 2 keyframes, each one take, every image loaded:
        assert tab.evaluate("[...document.querySelectorAll('.still img')].every(i => i.complete && i.naturalWidth > 0)")
        tab.click("button[data-approve='keyframe-a-start-1']")
        assert "Approved a start take 1 by mara" in tab.locator("[role=status]").inner_text()
        assert "approved by mara" in tab.locator("[data-still='keyframe-a-start-1']").inner_text()
        tab.click("button[data-reject='sheet-blue-front-1']")
        assert "Rejected blue front take 1" in tab.locator("[role=status]").inner_text()
        browser.close()
    rows = _rows(stills)
    assert (rows[("a", "start", 1)].status, rows[("a", "start", 1)].reviewer) == ("approved", "mara")
    assert rows[("blue", "front", 1)].status == "rejected"


def test_a_reroll_from_the_page_makes_a_take_with_the_edited_prompt_and_seed(stills: dict) -> None:
    said = _decide(stills["base"], "/keyframes/film", decision="reroll", kind="keyframe", subject="c", role="start",
                   prompt="a blue square moves down on a green background", seed="4242", reviewer="mara")
    assert said == "Rerolled c start keyframe: take 2"
    take = _rows(stills)[("c", "start", 2)]
    assert (take.seed, take.prompt) == (4242, "a blue square moves down on a green background")
    said = _decide(stills["base"], "/keyframes/film", decision="approve", kind="keyframe", subject="c", role="start", take="9")
    assert said.startswith("Not applied:") and "takes 1, 2, not 9" in said
    status, body, _ = _request(stills["base"], "GET", "/keyframes/nope")
    assert status == 404 and "nope" in body
