"""Embeddings through the front Flashgate: the openai SDK's /v1/embeddings (translated to Gemini
batchEmbedContents) and google-genai's embed_content (native passthrough, v1beta and v1); and,
through a Flashgate with teams, keys and an admin key, that embeddings and token counts are
metered: charged, refused by a spent budget or a missing price, and in /admin/usage."""

from __future__ import annotations

import hashlib
import math

import httpx
import openai
import pytest
from google import genai
from google.genai import types

from conftest import MODEL, start_flashgate_with_config

EMBED_MODEL = "gemini-embedding-001"
MOCK_DIMENSIONS = 8


def norm(vector: list[float]) -> float:
    return math.sqrt(sum(v * v for v in vector))


@pytest.fixture
def client(oai):
    """The openai client over TCP and over the Unix socket (conftest's `oai`)."""
    return oai


def test_default_base64_decodes_to_floats(client):
    # The SDK asks for base64 unless told otherwise and decodes it to floats.
    response = client.embeddings.create(model=EMBED_MODEL, input="hi")
    assert response.object == "list"
    assert response.model == EMBED_MODEL
    assert len(response.data) == 1
    vector = response.data[0].embedding
    assert len(vector) == MOCK_DIMENSIONS
    assert all(isinstance(v, float) for v in vector)
    assert norm(vector) == pytest.approx(1.0, abs=1e-5)
    assert response.usage.prompt_tokens > 0
    assert response.usage.total_tokens == response.usage.prompt_tokens


def test_array_input_gives_one_result_per_item_in_order(client):
    response = client.embeddings.create(model=EMBED_MODEL, input=["a", "b"])
    assert [d.index for d in response.data] == [0, 1]
    assert response.data[0].embedding != response.data[1].embedding
    single = client.embeddings.create(model=EMBED_MODEL, input="b")
    assert single.data[0].embedding == response.data[1].embedding


def test_float_encoding_matches_base64(client):
    as_float = client.embeddings.create(model=EMBED_MODEL, input="same", encoding_format="float")
    as_base64 = client.embeddings.create(model=EMBED_MODEL, input="same")
    assert len(as_float.data[0].embedding) == MOCK_DIMENSIONS
    assert as_float.data[0].embedding == pytest.approx(as_base64.data[0].embedding, rel=1e-6)


def test_dimensions(client):
    response = client.embeddings.create(model=EMBED_MODEL, input="hi", dimensions=4)
    assert len(response.data[0].embedding) == 4


def test_token_id_input_is_a_clear_400(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model=EMBED_MODEL, input=[[1, 2, 3]])
    assert "token ids is not supported" in str(caught.value)


# --- google-genai ---


@pytest.fixture(params=["v1beta", "v1"])
def genai_client(request, gateways):
    return genai.Client(
        api_key="k",
        http_options=types.HttpOptions(base_url=gateways.front.base_url, api_version=request.param, timeout=30_000),
    )


def test_genai_embed_content(genai_client, gateways):
    result = genai_client.models.embed_content(model=EMBED_MODEL, contents=["hi", "there"])
    assert len(result.embeddings) == 2
    assert all(len(e.values) == MOCK_DIMENSIONS for e in result.embeddings)
    assert norm(result.embeddings[0].values) == pytest.approx(1.0, abs=1e-5)

    # The same text gives the same vector on the OpenAI side.
    openai_client = openai.OpenAI(base_url=f"{gateways.front.base_url}/v1", api_key="sk", max_retries=0)
    via_openai = openai_client.embeddings.create(model=EMBED_MODEL, input="hi", encoding_format="float")
    assert result.embeddings[0].values == pytest.approx(via_openai.data[0].embedding, rel=1e-6)
    openai_client.close()


def test_genai_embed_content_output_dimensionality(genai_client):
    result = genai_client.models.embed_content(
        model=EMBED_MODEL, contents="hi", config=types.EmbedContentConfig(output_dimensionality=4)
    )
    assert len(result.embeddings[0].values) == 4


# --- metering: a Flashgate with a team, keys, budgets and an admin key ---

METER_ADMIN = "fg-meter-admin-0123456789"
METER_KEY = "fg-meter-key-0123456789"
SPENT_KEY = "fg-meter-spent-0123456789"


@pytest.fixture(scope="module")
def metered(gateways, workdir):
    def sha(text: str) -> str:
        return "sha256:" + hashlib.sha256(text.encode()).hexdigest()

    config = f"""
routes:
  - name: mockup
    kind: gemini
    base_url: {gateways.upstream.base_url}
    api_key_env: GEMINI_API_KEY
    passthrough: true
teams:
  - id: search
    budgets:
      - {{ period: day, limit_usd: "1.00", mode: hard }}
  - id: broke
    budgets:
      - {{ period: day, limit_usd: "0.000001", mode: hard }}
keys:
  - {{ name: ci, team: search, hash: "{sha(METER_KEY)}" }}
  - {{ name: spent, team: broke, hash: "{sha(SPENT_KEY)}" }}
accounting:
  admin_key_env: FG_METER_ADMIN
"""
    gate = start_flashgate_with_config(
        "metered", workdir, config, env={"GEMINI_API_KEY": "test-key", "FG_METER_ADMIN": METER_ADMIN})
    yield gate
    code = gate.stop()
    assert code == 0, f"metered flashgate exited with {code}:\n{gate.log_tail()}"


def usage_rows(gate) -> list[dict]:
    response = httpx.get(f"{gate.base_url}/admin/usage", headers={"authorization": f"Bearer {METER_ADMIN}"}, timeout=10)
    assert response.status_code == 200
    return response.json()["data"]


def test_embeddings_are_charged_and_in_admin_usage(metered):
    client = openai.OpenAI(base_url=f"{metered.base_url}/v1", api_key=METER_KEY, max_retries=0)
    raw = client.embeddings.with_raw_response.create(model=EMBED_MODEL, input=["first", "second"], encoding_format="float")
    response = raw.parse()
    # The mock reports no usage, so the call is charged its strict reservation: each input's bytes
    # plus the "text" key, 8 per content and 4 per part, (5 + 16) + (6 + 16) = 43 tokens at
    # $0.15/M = 6.45 micro-dollars, rounded up; prompt_tokens says what was charged.
    assert response.usage.prompt_tokens == 43
    assert raw.headers["x-flashgate-cost-usd"] == "0.000007"
    client.close()

    native = genai.Client(
        api_key=METER_KEY, http_options=types.HttpOptions(base_url=metered.base_url, api_version="v1beta", timeout=30_000))
    result = native.models.embed_content(model=EMBED_MODEL, contents=["hi"])
    assert len(result.embeddings) == 1

    rows = [row for row in usage_rows(metered) if row["model"] == EMBED_MODEL]
    assert len(rows) == 1 and rows[0]["team"] == "search" and rows[0]["key"] == "ci"
    assert rows[0]["requests"] == 2
    assert float(rows[0]["cost_usd"]) > 0.000007
    assert rows[0]["prompt_tokens"] > 43


def test_count_tokens_is_free_but_recorded(metered):
    native = genai.Client(
        api_key=METER_KEY, http_options=types.HttpOptions(base_url=metered.base_url, api_version="v1beta", timeout=30_000))
    counted = native.models.count_tokens(model=MODEL, contents="how many tokens is this?")
    assert counted.total_tokens > 0
    rows = [row for row in usage_rows(metered) if row["model"] == MODEL]
    assert len(rows) == 1 and rows[0]["requests"] == 1
    assert float(rows[0]["cost_usd"]) == 0


def test_a_spent_budget_and_a_missing_price_refuse_embeddings(metered):
    spent = openai.OpenAI(base_url=f"{metered.base_url}/v1", api_key=SPENT_KEY)
    with pytest.raises(openai.RateLimitError) as caught:
        spent.embeddings.create(model=EMBED_MODEL, input="hello")
    assert caught.value.code == "insufficient_quota"
    spent.close()
    client = openai.OpenAI(base_url=f"{metered.base_url}/v1", api_key=METER_KEY, max_retries=0)
    with pytest.raises(openai.BadRequestError) as unpriced:
        client.embeddings.create(model="text-embedding-004", input="hello")
    assert "prices.text-embedding-004" in str(unpriced.value)
    client.close()
