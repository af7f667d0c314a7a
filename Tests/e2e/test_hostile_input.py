"""Hostile input on every endpoint: thousands of mutated JSON bodies (wrong types, missing and
extra fields, deep and long values, broken bytes) and mutated raw HTTP requests. Flashgate answers
each with a 2xx or a 4xx in the caller's dialect, never a 5xx, stays up, and its money adds up
afterwards: no reservation is left open, the budget's settled spend is what /admin/usage reports,
what the answers said they cost is in it, and no call cost more than it reserved. The team has an
output cap, a concurrency limit of one, per-model limits, a model alias with its own tier, and
soft and per-key budgets, so those paths see the hostile bodies too.

Seeded and repeatable: FG_FUZZ_SEED picks the run, FG_FUZZ_BODIES and FG_FUZZ_REQUESTS its size
(`FG_FUZZ_BODIES=400000 make e2e` for a long campaign). One Flashgate of its own, in front of the
shared offline upstream."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import random
import re
import socket
from decimal import Decimal

import httpx
import pytest

from conftest import start_flashgate_with_config

KEY = "fg-e2e-hostile-0123456789abcdef"
ADMIN = "fg-e2e-hostile-admin"
SEED = int(os.environ.get("FG_FUZZ_SEED", "20261207"))
BODIES = int(os.environ.get("FG_FUZZ_BODIES", "1500"))
REQUESTS = int(os.environ.get("FG_FUZZ_REQUESTS", "600"))

PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
    )
).decode()
FLASH, FLASH3, EMBED = "gemini-2.5-flash", "gemini-3.5-flash", "gemini-embedding-001"
SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}

# One valid body per endpoint and shape; the mutations start from these.
SEEDS: list[tuple[str, dict]] = [
    ("/v1/chat/completions", {
        "model": FLASH, "max_tokens": 64, "temperature": 0.5,
        "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi there"}]}),
    ("/v1/chat/completions", {
        "model": FLASH, "stream": True, "stream_options": {"include_usage": True},
        "messages": [{"role": "user", "content": [
            {"type": "text", "text": "x"}, {"type": "image_url", "image_url": {"url": "data:image/png;base64," + PNG}}]}]}),
    ("/v1/chat/completions", {
        "model": FLASH3, "reasoning_effort": "low", "tool_choice": "auto",
        "messages": [
            {"role": "user", "content": "weather"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"x\"}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "sunny"}],
        "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": SCHEMA}}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "w", "schema": SCHEMA}}}),
    ("/v1/responses", {"model": FLASH3, "input": "hello", "instructions": "brief", "store": False}),
    ("/v1/responses", {
        "model": FLASH3, "stream": True, "reasoning": {"effort": "low", "summary": "auto"},
        "input": [{"role": "user", "content": [
            {"type": "input_text", "text": "hi"}, {"type": "input_image", "image_url": "data:image/png;base64," + PNG}]}],
        "tools": [{"type": "function", "name": "get_weather", "parameters": SCHEMA}],
        "text": {"format": {"type": "json_schema", "name": "w", "schema": SCHEMA}}}),
    ("/v1/responses", {
        "model": FLASH3, "store": True, "previous_response_id": "resp_missing",
        "input": [{"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": "{}"},
                  {"type": "function_call_output", "call_id": "c1", "output": "ok"}]}),
    ("/v1/embeddings", {"model": EMBED, "input": ["a", "b"], "encoding_format": "float", "dimensions": 8}),
    (f"/v1beta/models/{FLASH}:generateContent", {
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "systemInstruction": {"parts": [{"text": "s"}]},
        "generationConfig": {"maxOutputTokens": 32, "temperature": 0.1, "thinkingConfig": {"thinkingBudget": 0},
                             "candidateCount": 1, "responseLogprobs": True, "logprobs": 2, "seed": 7, "topK": 4},
        "tools": [{"functionDeclarations": [{"name": "f", "parameters": {"type": "object"}}]}, {"googleSearch": {}}]}),
    (f"/v1beta/models/{FLASH}:streamGenerateContent?alt=sse", {
        "contents": [{"role": "user", "parts": [{"text": "hi"}, {"inlineData": {"mimeType": "image/png", "data": PNG}}]}]}),
    (f"/v1beta/models/{FLASH}:countTokens", {"contents": [{"parts": [{"text": "count me"}]}]}),
    (f"/v1beta/models/{EMBED}:embedContent", {"content": {"parts": [{"text": "e"}]}, "outputDimensionality": 4}),
    (f"/v1beta/models/{EMBED}:batchEmbedContents", {
        "requests": [{"model": f"models/{EMBED}", "content": {"parts": [{"text": "e"}]}}]}),
    ("/v1beta/cachedContents", {
        "model": f"models/{FLASH}", "ttl": "60s", "contents": [{"role": "user", "parts": [{"text": "long " * 50}]}]}),
]

# Values a mutation puts where another value was.
WEIRD = [
    None, True, False, 0, -1, 1e308, -1e308, 2**64, 0.5, -0.0, 123456789012345678901234567890, "", "x" * 5000,
    # Integers at the edges of 32 and 64 bits: they parse as Int, so arithmetic on them must not overflow.
    2**63 - 1, -2**63, 2**62, 2**31, -2**31 - 1, 2**53 + 1, 4294967297, "9223372036854775807s", "-1s",
    "99999999999s", "1e9s",
    "\u0000\ud7ff\U0001F600", [], {}, [None], {"": None}, "NaN", "data:image/png;base64,!!!",
    "http://127.0.0.1:1/x.png", FLASH, "models/" + FLASH, "fast", "models/quick", "user", "assistant", "tool",
    "function", "system", "developer", "auto", "none", "required", "json_object",
]
KEYS = ["type", "text", "role", "content", "parts", "name", "extra", "functionCall", "thought_signature",
        "thoughtSignature", "inlineData", "fileData", "image_url", "file", "serviceTier", "service_tier",
        # Numeric settings a client may set to anything.
        "candidateCount", "candidate_count", "maxOutputTokens", "max_output_tokens", "logprobs", "thinkingBudget",
        "ttl", "n", "max_tokens", "max_completion_tokens", "top_logprobs", "seed", "topK", "dimensions",
        "outputDimensionality", "max_output_tokens", "expireTime"]
TOKENS = [b"{", b"}", b"[", b"]", b",", b"\"", b"\\u", b"\\ud800", b"1e999", b"-", b"\x00", b"\xff", b"null",
          b"10e9223372036854775807", b"1e-9223372036854775808", b"9223372036854775808"]


def random_value(rnd: random.Random, depth: int = 0):
    roll = rnd.random()
    if depth > 3 or roll < 0.6:
        return copy.deepcopy(rnd.choice(WEIRD))
    if roll < 0.8:
        return [random_value(rnd, depth + 1) for _ in range(rnd.randint(0, 3))]
    return {rnd.choice(KEYS): random_value(rnd, depth + 1) for _ in range(rnd.randint(0, 3))}


def paths(value, path=()):
    yield path
    if isinstance(value, dict):
        for key in list(value):
            yield from paths(value[key], path + (key,))
    elif isinstance(value, list):
        for index in range(len(value)):
            yield from paths(value[index], path + (index,))


def mutate(rnd: random.Random, body: dict) -> dict:
    body = copy.deepcopy(body)
    for _ in range(rnd.randint(1, 4)):
        path = rnd.choice(list(paths(body)))
        if not path:
            continue
        parent = body
        for step in path[:-1]:
            parent = parent[step]
        key = path[-1]
        roll = rnd.random()
        if roll < 0.45:
            parent[key] = random_value(rnd)
        elif roll < 0.6:
            del parent[key]
        elif roll < 0.75:
            target = parent[key]
            if isinstance(target, dict):
                target[rnd.choice(KEYS)] = random_value(rnd)
            elif isinstance(target, list):
                target.append(copy.deepcopy(rnd.choice(target)) if target and rnd.random() < 0.5 else random_value(rnd))
            else:
                parent[key] = random_value(rnd)
        elif roll < 0.85:
            target = parent[key]
            parent[key] = target * rnd.randint(2, 50) if isinstance(target, list) and target else [target]
        else:
            parent[key] = {"nested": parent[key]} if rnd.random() < 0.5 else str(parent[key])
    return body


def break_bytes(rnd: random.Random, data: bytes, pieces: list[bytes] = TOKENS, cut: int = 10) -> bytes:
    """A few random edits: a byte overwritten, one of `pieces` inserted, or up to `cut` bytes cut."""
    out = bytearray(data)
    for _ in range(rnd.randint(1, 5)):
        at = rnd.randrange(len(out) + 1)
        roll = rnd.random()
        if roll < 0.3 and out:
            out[min(at, len(out) - 1)] = rnd.randrange(256)
        elif roll < 0.6:
            out[at:at] = rnd.choice(pieces)
        else:
            del out[at:at + rnd.randint(1, cut)]
    return bytes(out)


def native_dialect(path: str) -> bool:
    return path.startswith("/v1beta/") or ":" in path


def check_error(path: str, response: httpx.Response, sent: bytes) -> None:
    where = f"seed {SEED}: {response.status_code} on {path} for {sent[:300]!r}"
    assert response.headers.get("content-type", "").startswith("application/json"), where
    error = response.json()["error"]
    assert isinstance(error["message"], str) and error["message"], where
    if native_dialect(path):
        assert error["code"] == response.status_code and isinstance(error["status"], str), where
    else:
        assert isinstance(error["type"], str) and error["type"], where


@pytest.fixture(scope="module")
def gate(tmp_path_factory, gateways):
    workdir = tmp_path_factory.mktemp("hostile")
    digest = "sha256:" + hashlib.sha256(KEY.encode()).hexdigest()
    config = f"""
routes:
  - name: studio
    kind: gemini
    base_url: {gateways.upstream.base_url}
    api_key_env: FG_HOSTILE_UPSTREAM_KEY
    passthrough: true
models:
  - {{ id: fast, aliases: [quick], route: studio, upstream_model: {FLASH}, service_tier: flex }}
teams:
  - id: hostile
    max_output_tokens: 512
    limits: {{ concurrent: 1 }}
    model_limits:
      fast: {{ rpm: 1000000 }}
    budgets:
      - {{ period: day, limit_usd: "1000", mode: hard }}
      - {{ period: month, limit_usd: "0.000001", mode: soft }}
keys:
  - name: fuzz
    team: hostile
    hash: "{digest}"
    budgets:
      - {{ period: day, limit_usd: "500", mode: hard }}
accounting:
  admin_key_env: FG_HOSTILE_ADMIN
"""
    gate = start_flashgate_with_config(
        "hostile", workdir, config, env={"FG_HOSTILE_UPSTREAM_KEY": "k", "FG_HOSTILE_ADMIN": ADMIN})
    yield gate
    assert gate.stop() == 0, gate.log_tail()


def admin_get(gate, path: str) -> list[dict]:
    response = httpx.get(gate.base_url + path, headers={"authorization": f"Bearer {ADMIN}"}, timeout=10)
    assert response.status_code == 200
    return response.json()["data"]


def test_mutated_bodies_get_a_4xx_in_the_callers_dialect_and_the_money_adds_up(gate):
    rnd = random.Random(SEED)
    answered_cost = Decimal(0)
    statuses: dict[int, int] = {}
    with httpx.Client(base_url=gate.base_url, timeout=30) as client:
        for _ in range(BODIES):
            path, seed = rnd.choice(SEEDS)
            body = mutate(rnd, seed) if rnd.random() < 0.85 else seed
            sent = json.dumps(body).encode()
            if rnd.random() < 0.15:
                sent = break_bytes(rnd, sent)
            headers = {"content-type": "application/json", "authorization": f"Bearer {KEY}"}
            if rnd.random() < 0.5:
                headers["cache-control"] = "no-store"
            response = client.post(path, content=sent, headers=headers)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            assert response.status_code < 500, f"seed {SEED}: {path} {sent[:600]!r} -> {response.text[:400]}"
            if response.status_code >= 400:
                check_error(path, response, sent)
            elif "x-flashgate-cost-usd" in response.headers:
                answered_cost += Decimal(response.headers["x-flashgate-cost-usd"])
        assert client.get("/readyz").status_code == 200
    # Both kinds of answer happened: the mutations reach the translators, not only the parser.
    assert statuses.get(200, 0) > BODIES // 10 and statuses.get(400, 0) > BODIES // 10, statuses

    # Every call has ended, so nothing may still be reserved. Settlements are in memory at once;
    # their rows follow on the ledger's writer, so the check asks again until they are in (each
    # attempt is a real request; nothing sleeps).
    for _ in range(2000):
        budget = next(b for b in admin_get(gate, "/admin/budgets") if b["budget"] == "team:hostile:day")
        usage = sum(Decimal(str(row["cost_usd"])) for row in admin_get(gate, "/admin/usage") if row["team"] == "hostile")
        settled = Decimal(str(budget["settled_usd"]))
        if Decimal(str(budget["reserved_usd"])) == 0 and usage == settled:
            break
    assert Decimal(str(budget["reserved_usd"])) == 0, budget
    assert usage == settled, (usage, budget)
    assert answered_cost <= settled and settled > 0, (answered_cost, settled)
    # Strict accounting: no call cost more than the worst case it reserved, whatever its shape
    # (the offline upstream charges for shapes Gemini would refuse, so this checks the bound).
    assert "cost more than it reserved" not in gate.log_path.read_text(errors="replace"), f"seed {SEED}"


def test_mutated_http_requests_never_take_it_down(gate):
    rnd = random.Random(SEED + 1)
    host, port = "127.0.0.1", gate.port
    body = json.dumps({"model": FLASH, "messages": [{"role": "user", "content": "raw"}]}).encode()
    native = b'{"contents":[{"parts":[{"text":"raw"}]}]}'
    auth = f"Authorization: Bearer {KEY}\r\n".encode()
    requests = [
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n" + auth
        + b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body,
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n" + auth
        + b"Transfer-Encoding: chunked\r\n\r\n%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n",
        b"GET /v1/models HTTP/1.1\r\nHost: x\r\n" + auth + b"\r\n",
        b"POST /v1beta/models/gemini-2.5-flash:generateContent HTTP/1.1\r\nHost: x\r\n" + auth
        + b"Content-Length: %d\r\n\r\n" % len(native) + native,
    ]
    pieces = [
        b"\r\n", b"\n", b"\r", b" ", b":", b"\x00", b"\xff", b"\t", b"%00", b"/../", b"?a=%zz", b"GET ", b"HTTP/1.0",
        b"HTTP/2.0", b"x" * 9000, b"0\r\n\r\n", b"ffffffffffffffff\r\n", b"Content-Length: 99999999999999999999\r\n",
        b"Content-Length: -1\r\n", b"Transfer-Encoding: chunked\r\n", b"Expect: 100-continue\r\n", b"Connection: close\r\n",
    ]
    statuses: dict[int, int] = {}
    for _ in range(REQUESTS):
        sent = break_bytes(rnd, rnd.choice(requests), pieces, cut=20)
        if rnd.random() < 0.3:
            sent = sent * 2  # pipelined
        received = b""
        with socket.create_connection((host, port), timeout=30) as conn:
            try:
                conn.sendall(bytes(sent))
                # Half-closed: Flashgate answers what it has read and closes, so no read waits on a timer.
                conn.shutdown(socket.SHUT_WR)
                while chunk := conn.recv(65536):
                    received += chunk
            except OSError:
                pass  # closed on us mid-send: also an answer to garbage
        for status in re.findall(rb"HTTP/1\.[01] (\d{3})", received):
            statuses[int(status)] = statuses.get(int(status), 0) + 1
            assert int(status) < 500, f"seed {SEED + 1}: {bytes(sent)[:400]!r} -> {received[:400]!r}"
    assert statuses.get(400, 0) > 0, statuses
    with httpx.Client(base_url=gate.base_url, timeout=30) as client:
        assert client.get("/readyz").status_code == 200
        answer = client.post("/v1/chat/completions", content=body,
                             headers={"content-type": "application/json", "authorization": f"Bearer {KEY}"})
        assert answer.status_code == 200, answer.text
