"""Bad input gets a 4xx in the caller's dialect, and the health endpoints answer."""

from __future__ import annotations

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
