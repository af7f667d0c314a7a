"""Remote media: `image_url` parts with http(s) URLs, fetched by Flashgate itself.

A Flashgate allowed to fetch over plain http from this machine (`media.allow_http`,
`media.allow_private_networks`) serves the built-in mock; a small HTTP server in this process
plays the media host. Requests name several URLs each, so their fetches run side by side.

Regression: in release builds (the binary `make test` runs this suite against) a request with two
or more remote images took the gateway down within a few requests (SIGILL at the bounds check in
`MediaFill`): the Swift 6.3 optimiser miscompiled the task that fetched each part, and the part's
index came back holding bytes of the fetched media.
"""

from __future__ import annotations

import base64
import concurrent.futures
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from conftest import Flashgate, start_flashgate_with_config

# A 1x1 transparent PNG.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def media_bytes(name: str) -> bytes:
    """Each path its own body, of its own length, so a part filled with another part's media
    changes what the model is sent."""
    return PNG + name.encode() * (1 + len(name) % 7)


class MediaHost(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802 (http.server's spelling)
        if self.path.startswith("/missing"):
            self.send_response(404)
            self.send_header("content-length", "0")
            self.end_headers()
            return
        body = media_bytes(self.path)
        self.send_response(200)
        self.send_header("content-type", "image/png")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def media_host():
    server = ThreadingHTTPServer(("127.0.0.1", 0), MediaHost)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def fetching(workdir):
    config = """
media: {allow_http: true, allow_private_networks: true, timeout: 10s}
"""
    gate = start_flashgate_with_config("fetching", workdir, config)
    yield gate
    code = gate.stop()
    assert code == 0, f"fetching flashgate exited with {code} after SIGTERM:\n{gate.log_tail()}"


def chat(gate: Flashgate, parts: list[dict]) -> httpx.Response:
    body = {"model": "mock", "messages": [{"role": "user", "content": parts}]}
    return httpx.post(f"{gate.base_url}/v1/chat/completions", json=body, timeout=30)


def image(url: str) -> dict:
    return {"type": "image_url", "image_url": {"url": url}}


def inline(name: str) -> dict:
    return image("data:image/png;base64," + base64.b64encode(media_bytes(name)).decode())


def test_several_remote_images_per_request_under_concurrency(fetching, media_host):
    """Forty requests of three remote images each, eight at a time: every one answers 200, each
    exactly as the same request with the media inlined does (the mock counts every byte it is
    sent), and the gateway is still up afterwards."""

    def one(i: int) -> tuple[int | str, int | None, int | None]:
        names = [f"/r{i}/a.png", f"/r{i}/bb.png", f"/r{i}/ccc.png"]
        text = {"type": "text", "text": f"three pictures, request {i}"}
        try:
            fetched = chat(fetching, [text] + [image(media_host + name) for name in names])
            inlined = chat(fetching, [text] + [inline(name) for name in names])
        except httpx.HTTPError as error:
            return f"{type(error).__name__}: {error}", None, None
        tokens = lambda r: r.json()["usage"]["prompt_tokens"] if r.status_code == 200 else None  # noqa: E731
        return fetched.status_code, tokens(fetched), tokens(inlined)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(40)))
    assert fetching.process.poll() is None, f"flashgate died ({results[-1][0]}):\n{fetching.log_tail()}"
    for status, fetched_tokens, inlined_tokens in results:
        assert status == 200
        assert fetched_tokens == inlined_tokens
    assert httpx.get(f"{fetching.base_url}/readyz", timeout=5).status_code == 200


def test_a_failed_fetch_names_its_part_and_leaves_the_gateway_up(fetching, media_host):
    parts = [
        {"type": "text", "text": "two pictures, one missing"},
        image(f"{media_host}/ok.png"),
        image(f"{media_host}/missing.png"),
    ]
    for _ in range(10):
        response = chat(fetching, parts)
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["param"] == "messages[0].content[2].image_url.url"
        assert "HTTP 404" in error["message"]
    assert fetching.process.poll() is None, f"flashgate died:\n{fetching.log_tail()}"
