"""Tools with Gemini 3 thought signatures, structured outputs, reasoning, logprobs and n>1,
through the real openai SDK → front Flashgate → libcurl → upstream Flashgate (mock model).

The mock plays Gemini 3's signature rule: a function call in the current turn whose signature is
missing or not the one it issued is a 400. So these tests fail if a signature is lost."""

from __future__ import annotations

import json

import openai
import pydantic
import pytest

GEMINI3 = "gemini-3.5-flash"
TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "description": "Weather by city",
     "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}},
    {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}},
]


def stripped(tool_calls):
    """What most OpenAI clients send back: id, type and function, with extra_content dropped."""
    return [{"id": c.id, "type": "function", "function": {"name": c.function.name, "arguments": c.function.arguments}}
            for c in tool_calls]


def test_parallel_tool_calls_carry_a_signature_on_the_first(oai):
    reply = oai.chat.completions.create(model=GEMINI3, messages=[{"role": "user", "content": "weather and time?"}], tools=TOOLS)
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls
    assert [c.function.name for c in calls] == ["get_weather", "get_time"]
    assert len({c.id for c in calls}) == 2
    first_extra = calls[0].model_extra.get("extra_content") or {}
    assert first_extra.get("google", {}).get("thought_signature")
    assert not (calls[1].model_extra or {}).get("extra_content")
    assert json.loads(calls[0].function.arguments) == {"city": "text"}


def test_multi_turn_tool_use_survives_a_client_that_drops_extra_content(oai):
    messages = [{"role": "user", "content": "weather and time?"}]
    first = oai.chat.completions.create(model=GEMINI3, messages=messages, tools=TOOLS)
    calls = first.choices[0].message.tool_calls
    messages += [
        {"role": "assistant", "content": None, "tool_calls": stripped(calls)},
        {"role": "tool", "tool_call_id": calls[0].id, "content": json.dumps({"temp": 21})},
        {"role": "tool", "tool_call_id": calls[1].id, "content": "noon"},
    ]
    second = oai.chat.completions.create(model=GEMINI3, messages=messages, tools=TOOLS)
    assert second.choices[0].finish_reason == "stop"
    assert second.choices[0].message.content == 'results: {"temp":21}; {"result":"noon"}'

    # A third step in the same turn: two model steps, both signatures restored.
    messages.append({"role": "user", "content": "again"})
    third = oai.chat.completions.create(model=GEMINI3, messages=messages, tools=TOOLS)
    calls3 = third.choices[0].message.tool_calls
    messages += [{"role": "assistant", "tool_calls": stripped(calls3)}]
    messages += [{"role": "tool", "tool_call_id": c.id, "content": "ok"} for c in calls3]
    fourth = oai.chat.completions.create(model=GEMINI3, messages=messages, tools=TOOLS)
    assert fourth.choices[0].message.content.startswith("results:")


def test_a_foreign_signature_is_refused_upstream_as_gemini_would(oai):
    messages = [
        {"role": "user", "content": "time?"},
        {"role": "assistant", "tool_calls": [{"id": "not-ours", "type": "function",
            "function": {"name": "get_time", "arguments": "{}"},
            "extra_content": {"google": {"thought_signature": "Zm9yZWlnbg=="}}}]},
        {"role": "tool", "tool_call_id": "not-ours", "content": "noon"},
    ]
    with pytest.raises(openai.BadRequestError) as caught:
        oai.chat.completions.create(model=GEMINI3, messages=messages, tools=TOOLS)
    assert "thought signature" in str(caught.value).lower()


def test_streamed_tool_calls_have_indices_ids_and_signature(oai):
    stream = oai.chat.completions.create(model=GEMINI3, messages=[{"role": "user", "content": "go"}], tools=TOOLS, stream=True)
    calls, finish = {}, None
    for chunk in stream:
        for choice in chunk.choices:
            for call in choice.delta.tool_calls or []:
                calls[call.index] = call
            finish = choice.finish_reason or finish
    assert finish == "tool_calls"
    assert sorted(calls) == [0, 1]
    assert (calls[0].model_extra.get("extra_content") or {}).get("google", {}).get("thought_signature")
    follow = [{"role": "user", "content": "go"},
              {"role": "assistant", "tool_calls": [{"id": c.id, "type": "function",
                  "function": {"name": c.function.name, "arguments": c.function.arguments}} for c in calls.values()]}]
    follow += [{"role": "tool", "tool_call_id": c.id, "content": "done"} for c in calls.values()]
    again = oai.chat.completions.create(model=GEMINI3, messages=follow, tools=TOOLS)
    assert again.choices[0].message.content.startswith("results:")


class Weather(pydantic.BaseModel):
    city: str
    celsius: float
    tags: list[str]


def test_parse_with_a_pydantic_model(oai):
    parsed = oai.chat.completions.parse(
        model=GEMINI3, messages=[{"role": "user", "content": "weather?"}], response_format=Weather)
    weather = parsed.choices[0].message.parsed
    assert isinstance(weather, Weather)
    assert weather.city == "text" and weather.tags == ["text"]


@pytest.mark.parametrize("model", ["gemini-2.5-flash", "gemini-3.5-flash", "gemini-3.1-pro"])
def test_reasoning_effort_returns_reasoning_and_counts_it(oai, model):
    reply = oai.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "think about this"}], reasoning_effort="low")
    message = reply.choices[0].message
    assert message.content == "think about this"
    assert (message.model_extra or {}).get("reasoning_content", "").startswith("Thinking about:")
    details = reply.usage.completion_tokens_details
    assert details.reasoning_tokens > 0
    assert reply.usage.completion_tokens > details.reasoning_tokens


def test_logprobs_and_n(oai):
    reply = oai.chat.completions.create(
        model="gemini-2.5-flash", messages=[{"role": "user", "content": "one two"}], logprobs=True, top_logprobs=2, n=2)
    assert [c.index for c in reply.choices] == [0, 1]
    content = reply.choices[0].logprobs.content
    assert [t.token for t in content] == ["one", " two"]
    assert len(content[0].top_logprobs) == 2 and content[0].logprob < 0
