"""The response cache and coalescing through the real SDKs: repeated prompts come from the
cache in both dialects and both streaming modes; concurrent identical prompts coalesce."""

from __future__ import annotations

import concurrent.futures
import uuid

import httpx
from google import genai
from google.genai import types

from conftest import until_cached

MODEL = "gemini-3.5-flash"


def unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex}"


def test_repeat_is_a_hit_with_cost_saved(oai):
    prompt = unique("cache me")
    first = oai.chat.completions.with_raw_response.create(model=MODEL, messages=[{"role": "user", "content": prompt}])
    assert first.headers["x-flashgate-cache"] == "miss"
    second = until_cached(lambda: oai.chat.completions.with_raw_response.create(
        model=MODEL, messages=[{"role": "user", "content": prompt}]))
    assert second.headers["x-flashgate-cache"] == "hit"
    assert second.headers["x-flashgate-cost-usd"] == "0.000000"
    assert float(second.headers["x-flashgate-cost-saved-usd"]) > 0
    a, b = first.parse(), second.parse()
    assert a.choices[0].message.content == b.choices[0].message.content == prompt
    assert a.usage.total_tokens == b.usage.total_tokens


def test_streamed_hit_and_no_store(oai):
    prompt = unique("stream me")
    oai.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": prompt}])
    raw = until_cached(lambda: oai.chat.completions.with_raw_response.create(
        model=MODEL, messages=[{"role": "user", "content": prompt}], stream=True, stream_options={"include_usage": True}))
    assert raw.headers["x-flashgate-cache"] == "hit"
    chunks = list(raw.parse())
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == prompt
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0

    skipped = oai.chat.completions.with_raw_response.create(
        model=MODEL, messages=[{"role": "user", "content": prompt}], extra_headers={"Cache-Control": "no-store"})
    assert skipped.headers["x-flashgate-cache"] == "bypass"


def test_openai_and_native_share_an_entry(oai, gateways):
    prompt = unique("shared entry")
    oai.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": prompt}])
    client = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=gateways.front.base_url, api_version="v1beta"))
    reply = client.models.generate_content(model=MODEL, contents=prompt)
    assert reply.text == prompt
    raw = until_cached(lambda: httpx.post(f"{gateways.front.base_url}/v1/models/{MODEL}:generateContent",
                                          json={"contents": [{"role": "user", "parts": [{"text": prompt}]}]}))
    assert raw.headers["x-flashgate-cache"] == "hit"


def test_concurrent_identical_prompts_coalesce_or_hit(gateways):
    prompt = unique("together")
    body = {"model": MODEL, "messages": [{"role": "user", "content": prompt}]}
    url = f"{gateways.front.base_url}/v1/chat/completions"
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda _: httpx.post(url, json=body, timeout=30), range(32)))
    outcomes = [a.headers["x-flashgate-cache"] for a in answers]
    assert all(a.status_code == 200 for a in answers)
    assert outcomes.count("miss") == 1, outcomes
    assert set(outcomes) <= {"miss", "joined", "hit"}
