"""Take docs/review-page.png, docs/review-form.png and docs/review-project.png from a real
review, in Debian's Chromium at 1280×800.

Runs what README's review section says: `storyreel server` (Prefect UI and the review pages)
and `storyreel render projects/demo/storyboard.yaml --review shot` against it, in a fresh home;
approves s01 on its review page, asks s02 for a second take, then photographs s02's review page
(its takes on one clock, the hand-off from s01 beside its first frame, the decision panel) and
the Prefect UI's Resume form of the same pause; approves every shot until the cut is stitched
and photographs the project page (the cut and its timeline). Stops both when done. Needs
`pip install -e '.[test]'` (Playwright) and `chromium`.

    .venv/bin/python docs/review_screenshots.py
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
STORYREEL = str(Path(sys.executable).parent / "storyreel")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(what: str, check, seconds: float = 900.0):  # type: ignore[no-untyped-def]
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            if found := check():
                return found
        except OSError:
            pass
        time.sleep(1)
    raise SystemExit(f"gave up waiting for {what}")


def _paused(tag: str):  # type: ignore[no-untyped-def]
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType, FlowRunFilterTags
    from prefect.client.schemas.objects import StateType

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED])), tags=FlowRunFilterTags(all_=[tag])))
    return runs[0] if runs else None


def _decide(media: str, shot: str, **form: str) -> None:
    """A decision as the review page's buttons send it."""
    data = urlencode({**form, "reviewer": "mara"}).encode()
    urllib.request.urlopen(urllib.request.Request(f"{media}/review/demo/{shot}", data=data, method="POST"), timeout=60)


def main() -> None:
    from playwright.sync_api import sync_playwright

    home = Path(tempfile.mkdtemp(prefix="storyreel-shots-"))
    ui_port, media_port = _free_port(), _free_port()
    api, media = f"http://127.0.0.1:{ui_port}/api", f"http://127.0.0.1:{media_port}"
    env = {**os.environ, "STORYREEL_HOME": str(home), "PREFECT_API_URL": api, "STORYREEL_MEDIA_URL": media,
           "PREFECT_HOME": str(home / "prefect"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "HF_HUB_OFFLINE": "1",
           "STORYREEL_REVIEWER": "mara"}
    os.environ.update({"PREFECT_API_URL": api, "PREFECT_HOME": env["PREFECT_HOME"]})
    server = subprocess.Popen([STORYREEL, "server", "--port", str(ui_port), "--media-port", str(media_port)], env=env, cwd=ROOT)
    render = None
    try:
        _wait("the Prefect server", lambda: urllib.request.urlopen(f"{api}/health", timeout=5).status == 200)
        render = subprocess.Popen([STORYREEL, "render", "projects/demo/storyboard.yaml", "--review", "shot", "--reviewer", "mara"],
                                  env=env, cwd=ROOT)
        _wait("the review of s01", lambda: _paused("storyreel-review:demo:s01"))
        _decide(media, "s01", decision="approve")
        first = _wait("the review of s02", lambda: _paused("storyreel-review:demo:s02"))
        _decide(media, "s02", decision="reroll", notes="a second take to compare")  # two takes side by side
        run = _wait("the review of s02's new take", lambda: (r := _paused("storyreel-review:demo:s02")) and r.state.id != first.state.id and r)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"])
            tab = browser.new_page(viewport={"width": 1280, "height": 800})
            tab.goto(f"{media}/review/demo/s02")
            tab.wait_for_function("[...document.querySelectorAll('video.sync')].every(v => v.readyState >= 2)", timeout=60_000)
            tab.evaluate("() => { const s = document.querySelector('#scrub'); s.value = 8; s.dispatchEvent(new Event('input')); }")
            time.sleep(1)
            tab.screenshot(path=str(DOCS / "review-page.png"))
            tab.goto(f"http://127.0.0.1:{ui_port}/runs/flow-run/{run.id}")
            tab.get_by_role("button", name="Resume").first.click(timeout=120_000)
            tab.get_by_text("Decision").first.wait_for(timeout=60_000)
            time.sleep(2)  # the summary's markdown settles
            tab.screenshot(path=str(DOCS / "review-form.png"))
            for shot in ("s02", "s03", "s04"):
                _wait(f"the review of {shot}", lambda shot=shot: _paused(f"storyreel-review:demo:{shot}"))
                _decide(media, shot, decision="approve")
            render.wait(600)
            tab.goto(f"{media}/review/demo")
            tab.wait_for_function("document.querySelector('.cut video').readyState >= 2", timeout=60_000)
            tab.screenshot(path=str(DOCS / "review-project.png"), full_page=True)
            browser.close()
        print(f"wrote {DOCS / 'review-page.png'}, {DOCS / 'review-form.png'} and {DOCS / 'review-project.png'}")
    finally:
        for process in (render, server):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(60)
                except subprocess.TimeoutExpired:
                    process.kill()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
