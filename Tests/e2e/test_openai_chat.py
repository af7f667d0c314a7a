"""The OpenAI SDK against the front Flashgate, over TCP and over the Unix socket."""

from __future__ import annotations

import httpx
import openai
import pytest

from conftest import MODEL

PROMPT = "hello there from the flashgate end to end suite"


@pytest.fixture
def client(oai):
    """The openai client over TCP and over the Unix socket (conftest's `oai`)."""
    return oai


def test_chat_completion_echoes_with_usage_and_request_id(client):
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL, messages=[{"role": "user", "content": PROMPT}]
    )
    assert raw.headers.get("x-request-id"), "x-request-id header missing"
    completion = raw.parse()
    assert completion.object == "chat.completion"
    assert completion.model == MODEL
    choice = completion.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == PROMPT
    assert choice.finish_reason == "stop"
    usage = completion.usage
    assert usage is not None
    assert usage.prompt_tokens > 0
    assert usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_chat_completion_echoes_last_user_message(client):
    completion = client.chat.completions.create(
        model=MODEL,
        messages=[
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "first question"},
            {"role": "assistant", "content": "first answer"},
            {"role": "user", "content": "second question"},
        ],
    )
    assert completion.choices[0].message.content == "second question"


def test_streaming_chat_completion(client):
    stream = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": PROMPT}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks, "no chunks"
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert len({c.id for c in chunks}) == 1, "one id for the whole stream"

    deltas = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert "".join(deltas) == PROMPT
    assert len(deltas) >= 2, f"expected several content chunks, got {deltas!r}"

    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]

    last = chunks[-1]
    assert last.usage is not None, "the last chunk carries usage when include_usage is set"
    assert last.choices == []
    assert last.usage.prompt_tokens > 0
    assert last.usage.completion_tokens > 0
    assert last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens


def test_max_tokens_truncates_with_finish_reason_length(client):
    completion = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "one two three four five"}], max_tokens=2
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "length"
    assert choice.message.content.split() == ["one", "two"]


def test_max_tokens_streaming(client):
    stream = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "one two three four five"}], max_tokens=2, stream=True
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.split() == ["one", "two"]
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["length"]


def test_stop_sequence_cuts_before_it(client):
    completion = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "alpha beta X gamma delta"}], stop=["X"]
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "stop"
    assert choice.message.content.rstrip() == "alpha beta"
    assert "X" not in choice.message.content
    assert "gamma" not in choice.message.content


def test_models_list(client):
    ids = [m.id for m in client.models.list()]
    assert ids, "no models listed"
    assert MODEL in ids


def test_model_id_passes_through(client):
    completion = client.chat.completions.create(
        model="gemini-2.5-pro", messages=[{"role": "user", "content": "which model"}]
    )
    assert completion.model == "gemini-2.5-pro"
    assert completion.choices[0].message.content == "which model"
