"""Embeddings through the front Flashgate: the openai SDK's /v1/embeddings (translated to Gemini
batchEmbedContents) and google-genai's embed_content (native passthrough, v1beta and v1)."""

from __future__ import annotations

import math

import openai
import pytest
from google import genai
from google.genai import types

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
