"""The read-only media server on loopback: serves media, refuses escapes and listings."""

from __future__ import annotations

import http.client
from pathlib import Path

import pytest

from flows.media import serve_in_thread


@pytest.fixture
def served(tmp_path: Path):  # type: ignore[no-untyped-def]
    home = tmp_path / "home"
    (home / "film" / "takes" / "s01").mkdir(parents=True)
    (home / "film" / "takes" / "s01" / "take-001.sheet.png").write_bytes(b"\x89PNG fake sheet")
    (home / "film" / "takes" / "s01" / "take-001.mp4").write_bytes(b"mp4 bytes")
    (home / "storyreel.db").write_bytes(b"secret database")
    (tmp_path / "outside.png").write_bytes(b"outside")
    (home / "film" / "link.png").symlink_to(tmp_path / "outside.png")
    server = serve_in_thread(home, port=0)
    yield server.server_address[1]
    server.shutdown()


def _get(port: int, path: str) -> tuple[int, bytes, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", path)
    response = conn.getresponse()
    return response.status, response.read(), response.getheader("Content-Type") or ""


def test_serves_a_contact_sheet_and_a_take(served: int) -> None:
    assert _get(served, "/film/takes/s01/take-001.sheet.png") == (200, b"\x89PNG fake sheet", "image/png")
    status, body, kind = _get(served, "/film/takes/s01/take-001.mp4")
    assert (status, kind) == (200, "video/mp4")


@pytest.mark.parametrize(
    "path",
    [
        "/../outside.png",
        "/film/../../outside.png",
        "/%2e%2e/outside.png",
        "/film/%2e%2e/%2e%2e/outside.png",
        "//etc/passwd",
        "/etc/passwd",
        "/storyreel.db",  # not a media file
        "/film/",  # no listings
        "/film/takes",
        "/film/link.png",  # a link leading outside
        "/film/takes/s01/missing.png",
    ],
)
def test_refuses_escapes_listings_and_non_media(served: int, path: str) -> None:
    status, body, _ = _get(served, path)
    assert status == 404
    assert b"secret" not in body and b"outside" not in body
