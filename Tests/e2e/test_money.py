"""Money the SDKs can see: a spent budget stops the openai SDK at once (no retries), an unpriced
model is refused, a requested tier is charged and echoed, and `flashgate check` explains a
missing price. One Flashgate of its own, whose route is the shared offline upstream (priced as
the Gemini model it names: the mock itself costs nothing)."""

from __future__ import annotations

import hashlib
import os
import subprocess

import httpx
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types

from conftest import flashgate_bin, start_flashgate_with_config

RICH = "fg-e2e-money-rich-0123456789"
BROKE = "fg-e2e-money-broke-0123456789"


def sha(key: str) -> str:
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


CONFIG = """
routes:
  - name: studio
    kind: gemini
    base_url: {upstream}
    api_key_env: FG_MONEY_KEY
    passthrough: true
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
def gate(tmp_path_factory, gateways):
    workdir = tmp_path_factory.mktemp("money")
    config = CONFIG.format(upstream=gateways.upstream.base_url, rich=sha(RICH), broke=sha(BROKE))
    gate = start_flashgate_with_config("money", workdir, config, env={"FG_MONEY_KEY": "k"})
    yield gate
    assert gate.stop() == 0, gate.log_tail()


def counting_client(key: str, base_url: str) -> tuple[openai.OpenAI, list[str]]:
    sent: list[str] = []
    http = httpx.Client(event_hooks={"request": [lambda request: sent.append(str(request.url))]}, timeout=30)
    # The SDK's default retry policy (2 retries with backoff): what a real service runs with.
    return openai.OpenAI(base_url=base_url, api_key=key, http_client=http), sent


def test_a_spent_budget_stops_the_openai_sdk_without_retrying(gate):
    client, sent = counting_client(BROKE, gate.base_url + "/v1")
    with pytest.raises(openai.RateLimitError) as raised:
        client.chat.completions.create(model="gemini-2.5-flash", messages=[{"role": "user", "content": "hi"}])
    assert raised.value.code == "insufficient_quota"
    assert "team:broke:day" in str(raised.value) and "resets at" in str(raised.value)
    # One request: the SDK read x-should-retry: false and gave up at once instead of retrying for minutes.
    assert len(sent) == 1, sent


def test_a_spent_budget_is_resource_exhausted_for_google_genai(gate):
    client = genai.Client(
        api_key=BROKE,
        http_options=genai_types.HttpOptions(base_url=gate.base_url, api_version="v1beta"),
    )
    with pytest.raises(genai_errors.ClientError) as raised:
        client.models.generate_content(model="gemini-2.5-flash", contents="hi")
    assert raised.value.code == 429
    assert raised.value.status == "RESOURCE_EXHAUSTED"
    details = raised.value.details["error"]["details"]
    assert details[0]["@type"] == "type.googleapis.com/google.rpc.QuotaFailure"


def test_a_model_without_a_price_is_refused_with_the_key_to_add(gate):
    client, sent = counting_client(RICH, gate.base_url + "/v1")
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(model="gemini-9", messages=[{"role": "user", "content": "hi"}])
    assert "prices.gemini-9" in str(raised.value)
    assert len(sent) == 1


def test_a_requested_tier_is_charged_and_echoed(gate):
    client, _ = counting_client(RICH, gate.base_url + "/v1")
    raw = client.chat.completions.with_raw_response.create(
        model="gemini-2.5-flash", service_tier="flex", messages=[{"role": "user", "content": "tier"}],
        extra_headers={"cache-control": "no-store"},
    )
    completion = raw.parse()
    assert raw.headers["x-flashgate-service-tier"] == "flex"
    assert completion.service_tier == "flex"
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(
            model="gemini-2.5-flash", service_tier="scale", messages=[{"role": "user", "content": "x"}])


def test_check_explains_a_missing_price(tmp_path):
    config = tmp_path / "unpriced.yaml"
    config.write_text("""
routes:
  - name: studio
    kind: gemini
    base_url: http://127.0.0.1:9
    api_key_env: FG_MONEY_KEY
models:
  - id: smart
    route: studio
    upstream_model: gemini-4-ultra
""")
    env = {**os.environ, "FG_MONEY_KEY": "k"}
    result = subprocess.run([flashgate_bin(), "check", "--config", str(config)], capture_output=True, text=True, env=env)
    assert result.returncode == 1
    assert "prices.gemini-4-ultra" in result.stderr and "'smart'" in result.stderr
    config.write_text(config.read_text() + """
prices:
  gemini-4-ultra:
    input: "3.00"
    output: "15.00"
""")
    fixed = subprocess.run([flashgate_bin(), "check", "--config", str(config)], capture_output=True, text=True, env=env)
    assert fixed.returncode == 0, fixed.stderr
