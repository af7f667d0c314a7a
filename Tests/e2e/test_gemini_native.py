"""The google-genai SDK against the front Flashgate's native Gemini API, for v1beta and v1."""

from __future__ import annotations

import pytest
from google import genai
from google.genai import types

from conftest import MODEL

PROMPT = "native gemini requests pass straight through"


@pytest.fixture(params=["v1beta", "v1"])
def client(request, gateways):
    return genai.Client(
        api_key="k",
        http_options=types.HttpOptions(base_url=gateways.front.base_url, api_version=request.param, timeout=30_000),
    )


def test_generate_content(client):
    response = client.models.generate_content(model=MODEL, contents=PROMPT)
    assert response.text == PROMPT
    usage = response.usage_metadata
    assert usage is not None
    assert usage.prompt_token_count > 0
    assert usage.candidates_token_count > 0
    assert usage.total_token_count == usage.prompt_token_count + usage.candidates_token_count
    assert response.candidates[0].finish_reason == types.FinishReason.STOP


def test_generate_content_max_output_tokens(client):
    response = client.models.generate_content(
        model=MODEL,
        contents="one two three four five",
        config=types.GenerateContentConfig(max_output_tokens=3),
    )
    assert response.text.split() == ["one", "two", "three"]
    assert response.candidates[0].finish_reason == types.FinishReason.MAX_TOKENS


def test_generate_content_stream(client):
    chunks = list(client.models.generate_content_stream(model=MODEL, contents=PROMPT))
    assert len(chunks) >= 2, "a multi-word prompt streams in several chunks"
    assert "".join(c.text or "" for c in chunks) == PROMPT
    assert chunks[-1].usage_metadata is not None
    assert chunks[-1].usage_metadata.total_token_count > 0


def test_count_tokens(client):
    result = client.models.count_tokens(model=MODEL, contents=PROMPT)
    assert result.total_tokens > 0
