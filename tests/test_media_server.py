"""The read-only media server on loopback: serves media, refuses escapes and listings."""

from __future__ import annotations

import http.client
from pathlib import Path

import pytest

from review.media import serve_in_thread


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


def _ask(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes, dict[str, str]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", path, headers=headers or {})
    response = conn.getresponse()
    return response.status, response.read(), {k.lower(): v for k, v in response.getheaders()}


def test_byte_ranges_get_206_with_those_bytes(served: int) -> None:
    status, body, headers = _ask(served, "/film/takes/s01/take-001.mp4", {"Range": "bytes=2-5"})
    assert (status, body) == (206, b"4 by")  # b"mp4 bytes"[2:6]
    assert headers["content-range"] == "bytes 2-5/9" and headers["accept-ranges"] == "bytes"
    status, body, _ = _ask(served, "/film/takes/s01/take-001.mp4", {"Range": "bytes=-3"})
    assert (status, body) == (206, b"tes")
    status, _, _ = _ask(served, "/film/takes/s01/take-001.mp4", {"Range": "bytes=50-60"})
    assert status == 416


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/film/%00.png", b"NUL"),
        ("/film/takes/s01/take-001.mp4%00.png", b"NUL"),
        ("/" + "a" * 300 + ".png", b"over 255 bytes"),
        ("/" + "a/" * 600, b"over 1024 bytes"),
        ("/film/%zz.png", b"malformed"),
        ("/film/%ff%fe.png", b"not UTF-8"),
    ],
)
def test_malformed_paths_get_400_not_a_dropped_connection(served: int, path: str, reason: bytes) -> None:
    status, body, _ = _ask(served, path)
    assert status == 400 and reason in body and b"Traceback" not in body
    assert _get(served, "/film/takes/s01/take-001.sheet.png")[0] == 200  # the server still serves


def test_a_foreign_host_header_is_refused(served: int) -> None:
    status, body, _ = _ask(served, "/film/takes/s01/take-001.sheet.png", {"Host": "evil.example:8765"})
    assert 400 <= status < 500 and b"PNG" not in body
    for host in ("127.0.0.1:1", "localhost:1", "[::1]:1"):
        assert _ask(served, "/film/takes/s01/take-001.sheet.png", {"Host": host})[0] == 200


def test_extra_hosts_are_configurable(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(b"png")
    server = serve_in_thread(tmp_path, port=0, extra_hosts=["review.studio.lan"])
    try:
        port = server.server_address[1]
        assert _ask(port, "/a.png", {"Host": "review.studio.lan"})[:2] == (200, b"png")
        assert _ask(port, "/a.png", {"Host": "other.studio.lan"})[0] == 400
    finally:
        server.shutdown()
