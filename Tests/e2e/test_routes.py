"""Routing, failover and route health through a front Flashgate configured with several routes:

* `dead`: a Gemini route to a port nothing listens on (every attempt is `unreachable`);
* `mockup`: a Gemini route to the upstream Flashgate's native Gemini API (mock model);
* `oaibackup`: an OpenAI-compatible route to the upstream Flashgate's own `/v1` endpoint.

`flash` (alias `fast`) tries dead, then oaibackup; `flash-native` tries dead, then mockup;
`flash-3` tries dead, then oaibackup as `gemini-3.5-flash`, so the mock plays Gemini 3's
thought-signature rule behind an OpenAI-compatible hop. Every request here fails over, so a
dropped field or a broken translation between the dialects shows up in the real SDKs' results.
"""

from __future__ import annotations

import itertools
import json

import httpx
import openai
import pytest
from google import genai
from google.genai import types

from conftest import Flashgate, free_port, start_flashgate_with_config

ADMIN_KEY = "fg-routes-admin-key-0000000000000000"
ROUTE_KEY = "route-test-key"
TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "description": "Weather by city",
     "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}},
    {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}},
]
_counter = itertools.count()


def unique(text: str) -> str:
    """A prompt no other request sent, so the front's response cache never answers it."""
    return f"{text} number {next(_counter)}"


@pytest.fixture(scope="module")
def routed(gateways, workdir):
    dead_port = free_port()  # bound and released at once: nothing listens there
    upstream = gateways.upstream.base_url
    config = f"""
routes:
  - name: dead
    kind: gemini
    base_url: http://127.0.0.1:{dead_port}
    api_key_env: FG_ROUTES_KEY
  - name: mockup
    kind: gemini
    base_url: {upstream}
    api_key_env: FG_ROUTES_KEY
  - name: oaibackup
    kind: openai
    base_url: {upstream}/v1
    api_key_env: FG_ROUTES_KEY
models:
  - id: flash
    aliases: [fast]
    routes: [dead, oaibackup]
  - id: flash-native
    routes: [dead, mockup]
  - id: flash-3
    routes: [dead, {{route: oaibackup, upstream_model: gemini-3.5-flash}}]
retry: {{max_attempts: 3, base_delay: 10ms, max_delay: 50ms, deadline: 10s}}
breaker: {{consecutive_failures: 2}}
# `flash` and `flash-native` go upstream under their own names, which need a price (no price, no call).
prices:
  flash: {{input: "0.30", output: "2.50"}}
accounting:
  admin_key_env: FG_ROUTES_ADMIN
"""
    gate = start_flashgate_with_config(
        "routed", workdir, config, env={"FG_ROUTES_KEY": ROUTE_KEY, "FG_ROUTES_ADMIN": ADMIN_KEY})
    yield gate
    code = gate.stop()
    assert code == 0, f"routed flashgate exited with {code} after SIGTERM:\n{gate.log_tail()}"


@pytest.fixture
def oai(routed: Flashgate):
    client = openai.OpenAI(base_url=f"{routed.base_url}/v1", api_key="sk-test", max_retries=0, timeout=30)
    yield client
    client.close()


@pytest.fixture
def gem(routed: Flashgate):
    return genai.Client(
        api_key="k", http_options=types.HttpOptions(base_url=routed.base_url, api_version="v1beta", timeout=30_000))


def admin_routes(routed: Flashgate) -> dict[str, dict]:
    response = httpx.get(f"{routed.base_url}/admin/routes", headers={"authorization": f"Bearer {ADMIN_KEY}"}, timeout=10)
    assert response.status_code == 200, response.text
    routes = response.json()["routes"]
    return {route["name"]: route for route in routes}


# OpenAI SDK -> front -> (dead, then) OpenAI-compatible backup -> upstream mock


def test_chat_fails_over_to_the_openai_backup(oai):
    prompt = unique("failover to the backup")
    reply = oai.chat.completions.create(model="flash", messages=[{"role": "user", "content": prompt}])
    choice = reply.choices[0]
    assert choice.message.content == prompt
    assert choice.message.role == "assistant"
    assert choice.finish_reason == "stop"
    assert reply.model == "flash"
    assert reply.usage.prompt_tokens > 0
    assert reply.usage.completion_tokens > 0
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


def test_chat_stream_fails_over_and_ends_with_usage(oai):
    prompt = unique("a streamed answer in several chunks")
    stream = oai.chat.completions.create(
        model="flash", messages=[{"role": "user", "content": prompt}], stream=True,
        stream_options={"include_usage": True})
    chunks = list(stream)
    content = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(content) >= 2, "a multi-word prompt streams in several chunks"
    assert "".join(c.choices[0].delta.content for c in content) == prompt
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert last.usage.completion_tokens > 0
    assert last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens
    assert all(c.usage is None for c in chunks[:-1])
    assert len({c.id for c in chunks}) == 1


def test_stream_without_include_usage_has_no_usage_chunk(oai):
    prompt = unique("no usage chunk please")
    chunks = list(oai.chat.completions.create(model="flash", messages=[{"role": "user", "content": prompt}], stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == prompt
    assert all(c.usage is None for c in chunks)


def test_alias_reaches_the_same_model(oai):
    prompt = unique("through the alias")
    reply = oai.chat.completions.create(model="fast", messages=[{"role": "user", "content": prompt}])
    assert reply.choices[0].message.content == prompt
    assert reply.choices[0].finish_reason == "stop"


def test_unknown_model_is_rejected_without_a_passthrough_route(oai):
    with pytest.raises(openai.APIStatusError) as caught:
        oai.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": unique("x")}])
    assert 400 <= caught.value.status_code < 500


def test_tool_round_trip_through_the_openai_backup(oai):
    messages = [{"role": "user", "content": unique("weather and time?")}]
    first = oai.chat.completions.create(model="flash", messages=messages, tools=TOOLS)
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls
    assert [c.function.name for c in calls] == ["get_weather", "get_time"]
    assert len({c.id for c in calls}) == 2
    assert json.loads(calls[0].function.arguments) == {"city": "text"}
    assert json.loads(calls[1].function.arguments) == {}

    messages += [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": c.id, "type": "function", "function": {"name": c.function.name, "arguments": c.function.arguments}}
            for c in calls]},
        {"role": "tool", "tool_call_id": calls[0].id, "content": json.dumps({"temp": 21})},
        {"role": "tool", "tool_call_id": calls[1].id, "content": "noon"},
    ]
    second = oai.chat.completions.create(model="flash", messages=messages, tools=TOOLS)
    assert second.choices[0].finish_reason == "stop"
    assert second.choices[0].message.content == 'results: {"temp":21}; {"result":"noon"}'


def test_streamed_tool_calls_through_the_openai_backup(oai):
    stream = oai.chat.completions.create(
        model="flash", messages=[{"role": "user", "content": unique("go")}], tools=TOOLS, stream=True)
    calls, finish = {}, None
    for chunk in stream:
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        for call in delta.tool_calls or []:
            entry = calls.setdefault(call.index, {"id": None, "name": "", "arguments": ""})
            if call.id:
                entry["id"] = call.id
            if call.function and call.function.name:
                entry["name"] += call.function.name
            if call.function and call.function.arguments:
                entry["arguments"] += call.function.arguments
        finish = chunk.choices[0].finish_reason or finish
    assert finish == "tool_calls"
    assert [calls[i]["name"] for i in sorted(calls)] == ["get_weather", "get_time"]
    assert all(calls[i]["id"] for i in calls)
    assert json.loads(calls[0]["arguments"]) == {"city": "text"}


@pytest.mark.parametrize("keep_extra_content", [True, False], ids=["full", "stripped"])
def test_gemini3_signatures_survive_the_openai_backup(oai, keep_extra_content):
    """The upstream mock refuses a Gemini 3 function call sent back without the signature it
    issued, so this fails if the signature is lost on the way out or back through the openai route."""
    messages = [{"role": "user", "content": unique("weather and time?")}]
    first = oai.chat.completions.create(model="flash-3", messages=messages, tools=TOOLS)
    calls = first.choices[0].message.tool_calls
    assert first.choices[0].finish_reason == "tool_calls"
    assert [c.function.name for c in calls] == ["get_weather", "get_time"]
    signature = ((calls[0].model_extra or {}).get("extra_content") or {}).get("google", {}).get("thought_signature")
    assert signature, f"no thought signature on the first call: {calls[0]}"

    def sent_back(call):
        item = {"id": call.id, "type": "function", "function": {"name": call.function.name, "arguments": call.function.arguments}}
        extra = (call.model_extra or {}).get("extra_content")
        if keep_extra_content and extra:
            item["extra_content"] = extra
        return item

    messages += [
        {"role": "assistant", "content": None, "tool_calls": [sent_back(c) for c in calls]},
        {"role": "tool", "tool_call_id": calls[0].id, "content": json.dumps({"temp": 21})},
        {"role": "tool", "tool_call_id": calls[1].id, "content": "noon"},
    ]
    second = oai.chat.completions.create(model="flash-3", messages=messages, tools=TOOLS)
    assert second.choices[0].finish_reason == "stop"
    assert second.choices[0].message.content == 'results: {"temp":21}; {"result":"noon"}'


# google-genai (native Gemini API) -> front -> (dead, then) a Gemini route or the OpenAI backup


def test_native_request_fails_over_to_the_gemini_route(gem):
    prompt = unique("native failover to mockup")
    response = gem.models.generate_content(model="flash-native", contents=prompt)
    assert response.text == prompt
    assert response.candidates[0].finish_reason == types.FinishReason.STOP
    usage = response.usage_metadata
    assert usage.prompt_token_count > 0
    assert usage.total_token_count == usage.prompt_token_count + usage.candidates_token_count


def test_native_stream_fails_over_to_the_gemini_route(gem):
    prompt = unique("native stream failover to mockup")
    chunks = list(gem.models.generate_content_stream(model="flash-native", contents=prompt))
    assert len(chunks) >= 2
    assert "".join(c.text or "" for c in chunks) == prompt
    assert chunks[-1].usage_metadata is not None
    assert chunks[-1].usage_metadata.total_token_count > 0


def test_native_request_is_translated_to_the_openai_backup_and_back(gem):
    prompt = unique("native to openai and back")
    response = gem.models.generate_content(model="flash", contents=prompt)
    assert response.text == prompt
    assert response.candidates[0].finish_reason == types.FinishReason.STOP
    usage = response.usage_metadata
    assert usage.prompt_token_count > 0
    assert usage.candidates_token_count > 0
    assert usage.total_token_count == usage.prompt_token_count + usage.candidates_token_count


def test_native_stream_through_the_openai_backup(gem):
    prompt = unique("native stream to openai and back")
    chunks = list(gem.models.generate_content_stream(model="fast", contents=prompt))
    assert len(chunks) >= 2
    assert "".join(c.text or "" for c in chunks) == prompt
    assert chunks[-1].usage_metadata is not None
    assert chunks[-1].usage_metadata.total_token_count > 0
    finishes = [c.candidates[0].finish_reason for c in chunks if c.candidates and c.candidates[0].finish_reason]
    assert finishes == [types.FinishReason.STOP]


def test_native_function_calling_through_the_openai_backup(gem):
    weather = types.FunctionDeclaration(
        name="get_weather", description="Weather by city",
        parameters_json_schema={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})
    config = types.GenerateContentConfig(
        tools=[types.Tool(function_declarations=[weather])],
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True))
    question = types.Content(role="user", parts=[types.Part.from_text(text=unique("weather in Paris?"))])
    first = gem.models.generate_content(model="flash", contents=[question], config=config)
    calls = first.function_calls
    assert calls and [c.name for c in calls] == ["get_weather"]
    assert calls[0].args == {"city": "text"}

    answer = types.Content(role="user", parts=[
        types.Part.from_function_response(name="get_weather", response={"temp": 21})])
    second = gem.models.generate_content(
        model="flash", contents=[question, first.candidates[0].content, answer], config=config)
    assert second.text == 'results: {"temp":21}'


# Route health


def test_admin_routes_shows_the_dead_route_open_and_the_backups_healthy(routed, oai, gem):
    # Enough traffic of our own that the result does not depend on which tests ran before.
    for _ in range(3):
        assert oai.chat.completions.create(
            model="flash", messages=[{"role": "user", "content": unique("health")}]).choices[0].message.content
    assert gem.models.generate_content(model="flash-native", contents=unique("health native")).text

    routes = admin_routes(routed)
    assert set(routes) == {"dead", "mockup", "oaibackup"}
    assert {name: r["kind"] for name, r in routes.items()} == {"dead": "gemini", "mockup": "gemini", "oaibackup": "openai"}

    dead = routes["dead"]
    assert dead["state"] == "open", dead
    assert dead["answered"] == 0
    assert dead["failed"] >= 2
    assert dead["attempts"] == dead["failed"]
    assert dead["recent_errors"], dead
    assert {e["outcome"] for e in dead["recent_errors"]} == {"unreachable"}
    for error in dead["recent_errors"]:
        assert isinstance(error["at_ms"], int) and error["at_ms"] > 1_600_000_000_000
        assert isinstance(error["duration_ms"], int) and error["duration_ms"] >= 0
    assert dead["latency_ms"]["samples"] == 0
    assert dead["latency_ms"]["p50"] is None

    for name in ("oaibackup", "mockup"):
        route = routes[name]
        assert route["state"] == "closed", route
        assert route["answered"] >= 1
        assert route["failed"] == 0
        assert route["recent_errors"] == []
        latency = route["latency_ms"]
        assert latency["samples"] >= 1
        assert isinstance(latency["p50"], int) and isinstance(latency["p95"], int)
        assert 0 <= latency["p50"] <= latency["p95"]
    assert routes["oaibackup"]["answered"] >= 3


def test_open_breaker_skips_the_dead_route(routed, oai):
    """Once `dead` is open, requests go straight to the backup: no new attempts on it."""
    for _ in range(2):
        oai.chat.completions.create(model="flash", messages=[{"role": "user", "content": unique("open it")}])
    before = admin_routes(routed)
    assert before["dead"]["state"] == "open"
    reply = oai.chat.completions.create(model="flash", messages=[{"role": "user", "content": unique("skip dead")}])
    assert reply.choices[0].finish_reason == "stop"
    after = admin_routes(routed)
    assert after["dead"]["attempts"] == before["dead"]["attempts"]
    assert after["oaibackup"]["answered"] == before["oaibackup"]["answered"] + 1


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-key", ADMIN_KEY[:-1]], ids=["none", "wrong-bearer", "wrong-bare"])
def test_admin_routes_needs_the_admin_key(routed, authorization):
    headers = {"authorization": authorization} if authorization else {}
    response = httpx.get(f"{routed.base_url}/admin/routes", headers=headers, timeout=10)
    assert response.status_code in (401, 403)
    assert "routes" not in response.json()
    assert response.json()["error"]["message"]


def test_admin_routes_is_get_only(routed):
    response = httpx.post(f"{routed.base_url}/admin/routes", headers={"authorization": f"Bearer {ADMIN_KEY}"}, timeout=10)
    assert response.status_code == 405
