"""Bad input gets a 4xx in the caller's dialect, and the health endpoints answer."""

from __future__ import annotations

import json
import socket
from urllib.parse import urlparse

import httpx
import pytest

from conftest import MODEL


@pytest.fixture
def http(front_url):
    with httpx.Client(base_url=front_url, timeout=30) as client:
        yield client


def openai_error(response: httpx.Response) -> dict:
    assert response.headers.get("content-type", "").startswith("application/json")
    body = response.json()
    error = body["error"]
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["type"], str) and error["type"]
    return error


def test_malformed_json_openai(http):
    response = http.post(
        "/v1/chat/completions", content=b'{"model": "x", "messages": [', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert openai_error(response)["type"] == "invalid_request_error"


def test_malformed_json_gemini(http):
    response = http.post(
        "/v1beta/models/x:generateContent", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == 400
    assert isinstance(error["message"], str) and error["message"]
    assert error["status"] == "INVALID_ARGUMENT"


def test_missing_messages(http):
    response = http.post("/v1/chat/completions", json={"model": MODEL})
    assert response.status_code == 400
    assert "messages" in openai_error(response)["message"]


def test_messages_of_wrong_type(http):
    response = http.post("/v1/chat/completions", json={"model": MODEL, "messages": "hi"})
    assert response.status_code == 400
    openai_error(response)


def test_unknown_path_is_json_404(http):
    response = http.get("/no/such/path")
    assert response.status_code == 404
    assert "error" in response.json()


def test_healthz(http):
    assert http.get("/healthz").status_code == 200


def test_readyz(http):
    assert http.get("/readyz").status_code == 200


def test_request_id_on_errors(http):
    response = http.post("/v1/chat/completions", json={"model": MODEL})
    assert response.headers.get("x-request-id")


def upstream_model_calls(gateways) -> int:
    """Model calls the upstream Flashgate (behind the front's passthrough route) has finished."""
    text = httpx.get(f"{gateways.upstream.base_url}/metrics", timeout=30).text
    endpoints = ('endpoint="generate"', 'endpoint="stream"', 'endpoint="embed"')
    return sum(
        int(float(line.rsplit(" ", 1)[1]))
        for line in text.splitlines()
        if line.startswith("flashgate_requests_total{") and any(e in line for e in endpoints)
    )


@pytest.mark.parametrize(
    "model", ["gemini-2.5-flash/../gemini-2.5-pro:generateContent#", "x/../../cachedContents#", "Gemini 2.5 Flash"]
)
def test_a_model_id_that_would_rewrite_the_upstream_url_is_a_400(oai, gateways, model):
    import openai

    before = upstream_model_calls(gateways)
    with pytest.raises(openai.BadRequestError) as raised:
        oai.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
    assert raised.value.status_code == 400
    error = raised.value.body
    assert error["param"] == "model"
    assert error["type"] == "invalid_request_error"
    assert "not valid" in error["message"]
    with pytest.raises(openai.BadRequestError) as raised:
        oai.embeddings.create(model=model, input="hi")
    assert raised.value.body["param"] == "model"
    assert upstream_model_calls(gateways) == before


def raw_exchange(front_url: str, *parts: bytes) -> list[bytes]:
    """Sends each part on one connection and reads after each until the server closes or
    answers; returns what came back after each part."""
    url = urlparse(front_url)
    replies = []
    with socket.create_connection((url.hostname, url.port), timeout=10) as conn:
        for part in parts:
            conn.sendall(part)
            data = conn.recv(65536)
            replies.append(data)
        rest = b""
        while chunk := conn.recv(65536):
            rest += chunk
        replies[-1] += rest
    return replies


def test_unparsable_request_gets_one_json_error_and_the_connection_closes(front_url):
    (reply,) = raw_exchange(front_url, b"GARBAGE\r\n\r\n")
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400")
    assert b"connection: close" in head.lower()
    error = json.loads(body)["error"]
    assert error["type"] == "invalid_request_error" and error["message"]
    assert reply.count(b"\r\n\r\n") == 1  # one response, no second one


def test_expect_100_continue_is_answered_before_the_body(front_url):
    body = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "continue"}]}).encode()
    head = (
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        b"expect: 100-continue\r\nconnection: close\r\ncontent-length: " + str(len(body)).encode() + b"\r\n\r\n"
    )
    interim, final = raw_exchange(front_url, head, body)
    assert interim.startswith(b"HTTP/1.1 100 Continue\r\n")
    assert final.startswith(b"HTTP/1.1 200")

