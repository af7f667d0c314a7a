"""A ledger that fills up, seen through the real SDKs: paid calls are refused with a 503 that says
what to do (`ledger_full`, and the openai SDK does not retry it), nothing is answered unrecorded,
and Flashgate starts again on the full ledger."""

from __future__ import annotations

import httpx
import openai
import pytest
from google import genai
from google.genai import errors, types

from conftest import start_flashgate_with_config

CONFIG = """
ledger:
  max_size: 1MiB
"""


def fill_until_refused(base_url: str) -> int:
    """Paid calls (the offline mock model, no cache) until the first refusal; returns how many were answered."""
    answered = 0
    with httpx.Client(base_url=base_url, timeout=10) as client:
        for i in range(20_000):
            response = client.post("/v1/chat/completions", headers={"cache-control": "no-store"},
                                   json={"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": f"fill {i}"}]})
            if response.status_code != 200:
                assert response.status_code == 503, response.text
                assert response.json()["error"]["code"] == "ledger_full"
                return answered
            answered += 1
    pytest.fail("20,000 paid calls and the 1 MiB ledger never refused one")


def test_a_full_ledger_refuses_paid_calls_in_both_sdks_and_flashgate_restarts_on_it(tmp_path):
    gate = start_flashgate_with_config("full", tmp_path, CONFIG)
    try:
        answered = fill_until_refused(gate.base_url)
        assert answered > 100

        oai = openai.OpenAI(base_url=f"{gate.base_url}/v1", api_key="unused", max_retries=2)
        with pytest.raises(openai.InternalServerError) as refused:
            oai.chat.completions.create(model="gemini-2.5-flash", messages=[{"role": "user", "content": "more"}],
                                        extra_headers={"cache-control": "no-store"})
        assert refused.value.status_code == 503
        assert refused.value.body["code"] == "ledger_full"
        assert "flashgate ledger compact" in refused.value.body["message"]

        client = genai.Client(api_key="unused", http_options=types.HttpOptions(
            base_url=gate.base_url, headers={"cache-control": "no-store"}))
        with pytest.raises(errors.ServerError) as native:
            client.models.generate_content(model="gemini-2.5-flash", contents="more")
        assert native.value.code == 503
        assert native.value.status == "UNAVAILABLE"
        assert httpx.get(f"{gate.base_url}/readyz").status_code == 200
    finally:
        assert gate.stop() == 0, gate.log_tail()

    # It starts again on the full ledger, and still refuses what it cannot record.
    again = start_flashgate_with_config("full", tmp_path, CONFIG)
    try:
        response = httpx.post(f"{again.base_url}/v1/chat/completions", headers={"cache-control": "no-store"},
                              json={"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "after"}]})
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "ledger_full"
    finally:
        assert again.stop() == 0, again.log_tail()
