"""The OpenAI Responses API (`/v1/responses`) through the real openai SDK → front Flashgate →
libcurl → upstream Flashgate (mock model): text, streams, multimodal input, Gemini 3 tool
conversations both stateless (`store: false`, replayed items with sealed reasoning) and stored
(`previous_response_id`), structured output, reasoning, the cache, a spent budget and a broken
upstream stream (the last two on a Flashgate of their own).

The mock plays Gemini 3's signature rule: a function call in the current turn whose signature is
missing or not one it accepts is a 400, so the tool tests fail if a signature is lost."""

from __future__ import annotations

import base64
import hashlib
import socket
import threading
import uuid

import httpx
import openai
import pydantic
import pytest

from conftest import start_flashgate_with_config, until_cached

GEMINI3 = "gemini-3.5-flash"
TOOLS = [
    {"type": "function", "name": "get_weather", "description": "Weather by city",
     "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
    {"type": "function", "name": "get_time", "parameters": {"type": "object", "properties": {}}},
]
# A 1x1 transparent PNG.
PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
    )
).decode()


def unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex}"


def test_text_answer_with_usage_and_cost(oai):
    prompt = unique("hello responses")
    raw = oai.responses.with_raw_response.create(model=GEMINI3, input=prompt, instructions="Be brief.")
    response = raw.parse()
    assert response.status == "completed"
    assert response.output_text == prompt
    assert response.id.startswith("resp_")
    assert response.instructions == "Be brief."
    assert response.usage.input_tokens > 0 and response.usage.output_tokens > 0
    assert response.usage.input_tokens_details.cached_tokens == 0
    assert raw.headers["x-flashgate-cache"] == "miss"
    assert "x-flashgate-cost-usd" in raw.headers


def test_stream_events_in_order(oai):
    prompt = unique("stream these words to me please")
    with oai.responses.stream(model=GEMINI3, input=prompt) as stream:
        events = list(stream)
        final = stream.get_final_response()
    types = [e.type for e in events]
    assert types[:2] == ["response.created", "response.in_progress"]
    assert types[-1] == "response.completed"
    assert [e.sequence_number for e in events] == list(range(len(events)))
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert len(deltas) > 1 and "".join(deltas) == prompt
    assert final.output_text == prompt and final.usage.total_tokens > 0


def test_raw_stream_with_create(oai):
    prompt = unique("raw stream")
    events = list(oai.responses.create(model=GEMINI3, input=prompt, stream=True))
    assert events[0].type == "response.created"
    assert events[-1].type == "response.completed"
    assert events[-1].response.output_text == prompt


def test_multimodal_input(oai):
    prompt = unique("what is in the picture")
    response = oai.responses.create(model=GEMINI3, input=[{"role": "user", "content": [
        {"type": "input_text", "text": prompt},
        {"type": "input_image", "image_url": f"data:image/png;base64,{PNG}", "detail": "low"},
        {"type": "input_file", "filename": "note.pdf", "file_data": "data:application/pdf;base64,JVBERi0xLjQK"},
    ]}])
    assert response.output_text == prompt


def function_calls(response):
    return [item for item in response.output if item.type == "function_call"]


def test_stateless_tool_conversation_replays_sealed_reasoning(oai):
    history = [{"role": "user", "content": "weather and time?"}]
    first = oai.responses.create(
        model=GEMINI3, input=history, tools=TOOLS, store=False, include=["reasoning.encrypted_content"])
    kinds = [item.type for item in first.output]
    assert kinds == ["reasoning", "function_call", "function_call"]
    assert first.output[0].encrypted_content
    calls = function_calls(first)
    assert [c.name for c in calls] == ["get_weather", "get_time"]
    # Replayed as Codex does: the items as they came, without their ids.
    history += [item.model_dump(exclude_none=True, exclude={"id"}) for item in first.output]
    history += [{"type": "function_call_output", "call_id": calls[0].call_id, "output": '{"temp": 21}'},
                {"type": "function_call_output", "call_id": calls[1].call_id, "output": "noon"}]
    with oai.responses.stream(model=GEMINI3, input=history, tools=TOOLS, store=False) as stream:
        second = stream.get_final_response()
    assert second.output_text == 'results: {"temp":21}; {"result":"noon"}'
    # Nothing was stored.
    with pytest.raises(openai.NotFoundError):
        oai.responses.retrieve(first.id)
    # Reasoning sealed by this Flashgate only: a forged one is refused, naming the item.
    forged = list(history)
    forged[1] = {**forged[1], "encrypted_content": "fgs1:" + base64.b64encode(b"forged" * 8).decode()}
    with pytest.raises(openai.BadRequestError) as raised:
        oai.responses.create(model=GEMINI3, input=forged, tools=TOOLS, store=False)
    assert raised.value.param == "input[1].encrypted_content"


def test_stored_tool_conversation_continues_with_previous_response_id(oai):
    first = oai.responses.create(model=GEMINI3, input="weather in Paris?", tools=TOOLS[:1])
    call = function_calls(first)[0]
    second = oai.responses.create(
        model=GEMINI3, previous_response_id=first.id, tools=TOOLS[:1],
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}])
    assert second.output_text == 'results: {"result":"sunny"}'
    assert second.previous_response_id == first.id
    assert oai.responses.retrieve(second.id).output_text == second.output_text
    oai.responses.delete(second.id)
    with pytest.raises(openai.NotFoundError):
        oai.responses.retrieve(second.id)
    with pytest.raises(openai.NotFoundError):
        oai.responses.create(model=GEMINI3, previous_response_id="resp_nope", input="x")


class Weather(pydantic.BaseModel):
    city: str
    celsius: int
    sunny: bool


def test_structured_output_with_a_pydantic_model(oai):
    response = oai.responses.parse(model=GEMINI3, input=unique("weather as json"), text_format=Weather)
    assert isinstance(response.output_parsed, Weather)
    assert response.output_parsed.celsius == 1


@pytest.mark.parametrize("model", [GEMINI3, "gemini-2.5-flash"])
def test_reasoning_effort_gives_a_summary_and_counts_it(oai, model):
    prompt = unique("think about it")
    response = oai.responses.create(model=model, input=prompt, reasoning={"effort": "low", "summary": "auto"})
    reasoning = [item for item in response.output if item.type == "reasoning"]
    assert reasoning and reasoning[0].summary[0].text.startswith("Thinking about:")
    assert response.usage.output_tokens_details.reasoning_tokens > 0
    assert response.output_text == prompt
    assert response.reasoning.effort == "low"


def test_a_repeat_is_a_cache_hit(oai):
    prompt = unique("cache me responses")
    oai.responses.create(model=GEMINI3, input=prompt)
    raw = until_cached(lambda: oai.responses.with_raw_response.create(model=GEMINI3, input=prompt))
    assert raw.headers["x-flashgate-cache"] == "hit"
    assert raw.headers["x-flashgate-cost-usd"] == "0.000000"
    assert raw.parse().output_text == prompt


def test_unsupported_fields_are_400s_naming_them(oai):
    with pytest.raises(openai.BadRequestError) as raised:
        oai.responses.create(model=GEMINI3, input="x", tools=[{"type": "file_search", "vector_store_ids": ["v"]}])
    assert raised.value.param == "tools[0].type"
    with pytest.raises(openai.BadRequestError) as raised:
        oai.responses.create(model=GEMINI3, input="x", extra_body={"conversation": "c"})
    assert raised.value.param == "conversation"


# A Flashgate of its own: a spent budget, and a route to an upstream that breaks its stream.

BROKE = "fg-e2e-responses-broke-0123456789"
RICH = "fg-e2e-responses-rich-0123456789"


def sha(key: str) -> str:
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


class BreakingUpstream:
    """A Gemini upstream that starts every stream with one event, then drops the connection."""

    EVENT = b'data: {"candidates":[{"content":{"role":"model","parts":[{"text":"partial "}]},"index":0}]}\r\n\r\n'

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                head, _, body = data.partition(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                while len(body) < length:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    body += chunk
                event = self.EVENT
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
                             + f"{len(event):x}\r\n".encode() + event + b"\r\n")

    def close(self) -> None:
        self.server.close()


CONFIG = """
routes:
  - name: studio
    kind: gemini
    base_url: {upstream}
    api_key_env: FG_RESP_KEY
    passthrough: true
  - name: breaking
    kind: gemini
    base_url: http://127.0.0.1:{breaking}
    api_key_env: FG_RESP_KEY
models:
  - id: breaking-flash
    routes: [{{route: breaking, upstream_model: gemini-3.5-flash}}]
retry: {{max_attempts: 1}}
teams:
  - id: rich
    budgets:
      - period: day
        limit_usd: "100"
  - id: broke
    budgets:
      - period: day
        limit_usd: "0.000001"
keys:
  - name: rich
    team: rich
    hash: {rich}
  - name: broke
    team: broke
    hash: {broke}
"""


@pytest.fixture(scope="module")
def own(tmp_path_factory, gateways):
    breaking = BreakingUpstream()
    workdir = tmp_path_factory.mktemp("responses")
    config = CONFIG.format(upstream=gateways.upstream.base_url, breaking=breaking.port, rich=sha(RICH), broke=sha(BROKE))
    gate = start_flashgate_with_config("responses", workdir, config, env={"FG_RESP_KEY": "k"})
    yield gate
    breaking.close()
    assert gate.stop() == 0, gate.log_tail()


def test_a_spent_budget_stops_the_sdk_at_once(own):
    sent: list[str] = []
    http = httpx.Client(event_hooks={"request": [lambda request: sent.append(str(request.url))]}, timeout=30)
    client = openai.OpenAI(base_url=own.base_url + "/v1", api_key=BROKE, http_client=http)
    with pytest.raises(openai.RateLimitError) as raised:
        client.responses.create(model=GEMINI3, input="hi")
    assert raised.value.code == "insufficient_quota"
    assert len(sent) == 1, sent


def test_a_broken_upstream_stream_ends_with_response_failed(own):
    client = openai.OpenAI(base_url=own.base_url + "/v1", api_key=RICH, max_retries=0, timeout=30)
    events = list(client.responses.create(model="breaking-flash", input=unique("break"), stream=True))
    types = [e.type for e in events]
    assert types[0] == "response.created"
    assert "response.output_text.delta" in types
    assert types[-1] == "response.failed" and "response.completed" not in types
    assert events[-1].response.status == "failed" and events[-1].response.error.message
    with client.responses.stream(model="breaking-flash", input=unique("break again")) as stream:
        with pytest.raises(RuntimeError):
            stream.get_final_response()
