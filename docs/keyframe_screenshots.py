"""Take docs/keyframe-review.png from a real keyframe review, in Debian's Chromium.

Runs README's walkthrough up to the review of stills in a fresh home: `storyreel keyframes
projects/previs/storyboard.yaml`, `storyreel approve-sheet previs red`, then photographs the
keyframe review page (`/keyframes/previs`, as `storyreel server` serves it). Needs
`pip install -e '.[test]'` (Playwright) and `chromium`.

    .venv/bin/python docs/keyframe_screenshots.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STORYREEL = str(Path(sys.executable).parent / "storyreel")


def main() -> None:
    from playwright.sync_api import sync_playwright

    from flows.settings import load_settings
    from review.media import serve_in_thread
    from review.stills_page import stills_routes

    home = Path(tempfile.mkdtemp(prefix="storyreel-stills-"))
    try:
        for args in (["keyframes", "projects/previs/storyboard.yaml"], ["approve-sheet", "previs", "red", "--reviewer", "mara"],
                     ["approve-keyframe", "previs", "p01", "--reviewer", "mara"]):
            subprocess.run([STORYREEL, *args, "--home", str(home)], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        server = serve_in_thread(home, port=0, routes=stills_routes(load_settings(home), "mara"))
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
            tab = browser.new_page(viewport={"width": 1280, "height": 800})
            tab.goto(f"http://127.0.0.1:{server.server_address[1]}/keyframes/previs")
            tab.wait_for_function("[...document.querySelectorAll('.still img')].every(i => i.complete)")
            tab.screenshot(path=str(ROOT / "docs" / "keyframe-review.png"), full_page=True)
            browser.close()
        server.shutdown()
        print(f"wrote {ROOT / 'docs' / 'keyframe-review.png'}")
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
