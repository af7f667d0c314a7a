"""Automatic context caching through the real SDKs: a long system prompt and tools shared by a
team's requests become one Gemini cachedContents resource, later requests read it (the prefix is
not sent again), the SDKs see the cached tokens, and the cost header is what Google would bill.
A long document that opens the conversation is cached with the prefix (the extended candidate),
and then is not sent again either.

The upstream is a small fake Gemini in this file that speaks cachedContents (create, patch,
delete, generations that reference a cache), since the offline mock has no caches.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import openai
import pytest
from google import genai
from google.genai import types as genai_types

from conftest import start_flashgate_with_config

KEY = "fg-e2e-context-0123456789"
MODEL = "gemini-3.5-flash"
SYSTEM = "rule " * 8000  # 10k tokens at four bytes a token
TOOL = {
    "type": "function",
    "function": {
        "name": "lookup",
        "description": "Look a document up",
        "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
    },
}


def tokens(body: dict) -> int:
    """Four bytes a token, of every text part and of the tools' JSON (FakeTokens in Swift)."""
    size = 0

    def texts(value):
        nonlocal size
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "text" and isinstance(item, str):
                    size += len(item.encode())
                else:
                    texts(item)
        elif isinstance(value, list):
            for item in value:
                texts(item)

    texts(body.get("systemInstruction"))
    texts(body.get("contents"))
    for key in ("tools", "toolConfig"):
        if key in body:
            size += len(json.dumps(body[key], separators=(",", ":")).encode())
    return math.ceil(size / 4)


class FakeGemini(ThreadingHTTPServer):
    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.lock = threading.Lock()
        self.caches: dict[str, dict] = {}
        self.generations: list[dict] = []
        self.creates = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    server: FakeGemini

    def log_message(self, *args):
        pass

    def reply(self, status: int, body: dict, sse: bool = False):
        data = json.dumps(body).encode()
        if sse:
            data = b"data: " + data + b"\r\n\r\n"
        self.send_response(status)
        self.send_header("content-type", "text/event-stream" if sse else "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def error(self, status: int, message: str, name: str):
        self.reply(status, {"error": {"code": status, "message": message, "status": name}})

    def body(self) -> dict:
        length = int(self.headers.get("content-length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")

    def do_POST(self):
        body = self.body()
        owner = self.headers.get("x-goog-api-key", "")
        path = self.path.split("?")[0]
        fake = self.server
        if path.endswith("/cachedContents"):
            count = tokens(body)
            contents = body.get("contents") or []
            if contents and contents[-1].get("role") == "model":
                return self.error(400, "Requests ending with a model turn are not supported.", "INVALID_ARGUMENT")
            if count < 1024:
                return self.error(400, f"Cached content is too small. total_token_count={count}, min_total_token_count=1024", "INVALID_ARGUMENT")
            with fake.lock:
                fake.creates += 1
                name = f"cachedContents/e2e{fake.creates}"
                fake.caches[name] = {"owner": owner, "tokens": count, "model": body["model"], "contents": contents}
            return self.reply(200, {"name": name, "model": body["model"], "usageMetadata": {"totalTokenCount": count}})
        cached = 0
        if "cachedContent" in body:
            with fake.lock:
                cache = fake.caches.get(body["cachedContent"])
            if cache is None:
                return self.error(404, f"CachedContent not found: {body['cachedContent']}", "NOT_FOUND")
            if cache["owner"] != owner:
                return self.error(403, f"Permission denied on {body['cachedContent']}", "PERMISSION_DENIED")
            if any(key in body for key in ("systemInstruction", "tools", "toolConfig")):
                return self.error(400, "Tool config, tools and system instruction should not be set in the request when using cached content.", "INVALID_ARGUMENT")
            if not body.get("contents"):
                return self.error(400, "contents is not specified", "INVALID_ARGUMENT")
            cached = cache["tokens"]
        with fake.lock:
            fake.generations.append(body)
        prompt = tokens(body) + cached
        usage = {"promptTokenCount": prompt, "candidatesTokenCount": 3, "totalTokenCount": prompt + 3}
        if cached:
            usage["cachedContentTokenCount"] = cached
        answer = {
            "candidates": [{"content": {"role": "model", "parts": [{"text": "Hello there"}]}, "finishReason": "STOP", "index": 0}],
            "usageMetadata": usage,
            "modelVersion": MODEL,
        }
        self.reply(200, answer, sse=path.endswith(":streamGenerateContent"))

    def do_PATCH(self):
        self.body()
        self.reply(200, {"name": self.path.split("/v1beta/")[-1]})

    def do_DELETE(self):
        self.reply(200, {})


CONFIG = """
routes:
  - name: studio
    kind: gemini
    base_url: {upstream}
    api_key_env: FG_CONTEXT_KEY
    passthrough: true
teams:
  - id: search
    budgets:
      - period: day
        limit_usd: "100"
keys:
  - name: search
    team: search
    hash: {hash}
"""


@pytest.fixture(scope="module")
def fake():
    server = FakeGemini()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def gate(tmp_path_factory, fake):
    workdir = tmp_path_factory.mktemp("context")
    config = CONFIG.format(upstream=fake.url, hash="sha256:" + hashlib.sha256(KEY.encode()).hexdigest())
    gate = start_flashgate_with_config("context", workdir, config, env={"FG_CONTEXT_KEY": "upstream-key"})
    yield gate
    assert gate.stop() == 0, gate.log_tail()


def billed(prompt: int, cached: int, output: int) -> str:
    """What Google bills on 3.5 Flash ($1.50 input, $0.15 cached, $9.00 output per 1M), in dollars."""
    micro = math.ceil(((prompt - cached) * 1_500_000 + cached * 150_000 + output * 9_000_000) / 1_000_000)
    return f"{micro / 1_000_000:.6f}"


def test_openai_chat_with_a_long_system_prompt_and_tools_reads_one_context_cache(gate, fake):
    client = openai.OpenAI(base_url=gate.base_url + "/v1", api_key=KEY, max_retries=0, timeout=30)
    raw = None
    # The cache is created off the response path after the planner's threshold (two reads): ask
    # until a request goes out on it. Each attempt is a real request; nothing sleeps.
    for index in range(200):
        raw = client.chat.completions.with_raw_response.create(
            model=MODEL,
            messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": f"question {index}"}],
            tools=[TOOL],
            extra_headers={"cache-control": "no-store"},
        )
        if "cachedContent" in fake.generations[-1]:
            break
    sent = fake.generations[-1]
    assert "cachedContent" in sent, "no request went out on a context cache"
    assert "systemInstruction" not in sent and "tools" not in sent
    assert fake.creates == 1
    completion = raw.parse()
    cache_tokens = next(iter(fake.caches.values()))["tokens"]
    assert completion.usage.prompt_tokens_details.cached_tokens == cache_tokens
    assert raw.headers["x-flashgate-cost-usd"] == billed(completion.usage.prompt_tokens, cache_tokens, 3)


def test_google_genai_reads_the_same_cache_and_sees_the_cached_tokens(gate, fake):
    client = genai.Client(api_key=KEY, http_options=genai_types.HttpOptions(base_url=gate.base_url, api_version="v1beta"))
    config = genai_types.GenerateContentConfig(
        system_instruction=SYSTEM,
        tools=[genai_types.Tool(function_declarations=[genai_types.FunctionDeclaration(
            name="lookup", description="Look a document up",
            parameters=genai_types.Schema(type="OBJECT", properties={"q": genai_types.Schema(type="STRING")}))])],
        http_options=genai_types.HttpOptions(headers={"cache-control": "no-store"}),
    )
    before = fake.creates
    answer = None
    for index in range(200):
        answer = client.models.generate_content(model=MODEL, contents=f"native question {index}", config=config)
        if "cachedContent" in fake.generations[-1]:
            break
    sent = fake.generations[-1]
    assert "cachedContent" in sent and "systemInstruction" not in sent and "tools" not in sent
    assert answer.usage_metadata.cached_content_token_count == fake.caches[sent["cachedContent"]]["tokens"]
    # Its own prefix (the native tool schema spelled differently from the OpenAI one) has its own cache.
    assert fake.creates <= before + 1


def test_the_opt_out_header_sends_the_full_prefix(gate, fake):
    client = openai.OpenAI(base_url=gate.base_url + "/v1", api_key=KEY, max_retries=0, timeout=30)
    client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": "opted out"}],
        tools=[TOOL],
        extra_headers={"cache-control": "no-store", "x-flashgate-context-cache": "off"},
    )
    sent = fake.generations[-1]
    assert "cachedContent" not in sent and "systemInstruction" in sent


def test_a_client_managed_cache_passes_through(gate, fake):
    client = openai.OpenAI(base_url=gate.base_url + "/v1", api_key=KEY, max_retries=0, timeout=30)
    name = next(iter(fake.caches))
    client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "on my own cache"}],
        extra_body={"extra_body": {"google": {"cached_content": name}}},
        extra_headers={"cache-control": "no-store"},
    )
    assert fake.generations[-1].get("cachedContent") == name


DOCUMENT = "fact " * 24000  # 30k tokens


def test_openai_chat_opening_with_a_long_document_reads_a_cache_that_holds_it(gate, fake):
    client = openai.OpenAI(base_url=gate.base_url + "/v1", api_key=KEY, max_retries=0, timeout=30)
    raw = None
    sent = {}
    # Conversations that open with the same document and differ later: once the planner's reads
    # pay, a cache holding the system prompt, the tools and the document serves them.
    for index in range(200):
        raw = client.chat.completions.with_raw_response.create(
            model=MODEL,
            messages=[
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": DOCUMENT},
                {"role": "assistant", "content": "I have read it."},
                {"role": "user", "content": f"document question {index}"},
            ],
            tools=[TOOL],
            extra_headers={"cache-control": "no-store"},
        )
        sent = fake.generations[-1]
        if fake.caches.get(sent.get("cachedContent", ""), {}).get("contents"):
            break
    cache = fake.caches.get(sent.get("cachedContent", ""))
    assert cache is not None and cache["contents"], "no request went out on a cache holding the document"
    assert cache["contents"][0]["parts"][0]["text"] == DOCUMENT and cache["contents"][-1]["role"] == "user"
    # Neither the prefix nor the document goes out again: only the turns after it.
    assert "systemInstruction" not in sent and "tools" not in sent
    assert [content["role"] for content in sent["contents"]] == ["model", "user"]
    assert sent["contents"][-1]["parts"][0]["text"].startswith("document question")
    completion = raw.parse()
    assert completion.usage.prompt_tokens_details.cached_tokens == cache["tokens"]
    assert raw.headers["x-flashgate-cost-usd"] == billed(completion.usage.prompt_tokens, cache["tokens"], 3)
    # One cache holds the document, however many conversations opened with it.
    assert sum(1 for item in fake.caches.values() if item["contents"]) == 1
