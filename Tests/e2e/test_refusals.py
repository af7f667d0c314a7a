"""Refusals are visible and soft budgets flag, through the real openai SDK.

A Flashgate with a team whose hard budget refuses everything, a team whose soft budget every call
goes over, and an admin key, in front of the session's mock upstream. Refused calls (a wrong key,
a budget) show up in /admin/usage, on /admin/dashboard.json and in `flashgate usage`; calls over
the soft budget are answered and name the budget in x-flashgate-budget-exceeded.
"""

from __future__ import annotations

import hashlib
import json
import subprocess

import httpx
import openai
import pytest

from conftest import MODEL, flashgate_bin, start_flashgate_with_config

ADMIN_KEY = "fg-admin-refusals-0123456789"
BROKE_KEY = "fg-broke-refusals-0123456789"
LAVISH_KEY = "fg-lavish-refusals-0123456789"


def sha(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture(scope="module")
def refusing_gate(gateways, workdir):
    config = f"""
routes:
  - name: mockup
    kind: gemini
    base_url: {gateways.upstream.base_url}
    api_key_env: GEMINI_API_KEY
    passthrough: true
teams:
  - id: broke
    budgets:
      - {{ period: day, limit_usd: "0.000001", mode: hard }}
  - id: lavish
    budgets:
      - {{ period: month, limit_usd: "0.000001", mode: soft }}
keys:
  - name: broke-key
    team: broke
    hash: "{sha(BROKE_KEY)}"
  - name: lavish-key
    team: lavish
    hash: "{sha(LAVISH_KEY)}"
accounting:
  admin_key_env: FLASHGATE_ADMIN_KEY
"""
    gate = start_flashgate_with_config(
        "refusals", workdir, config, env={"GEMINI_API_KEY": "test-key", "FLASHGATE_ADMIN_KEY": ADMIN_KEY})
    yield gate, workdir / "refusals-store"
    gate.stop()


def client(gate, key: str) -> openai.OpenAI:
    # No SDK retries: each call is one request, refused or not.
    return openai.OpenAI(base_url=gate.base_url + "/v1", api_key=key, max_retries=0)


def chat(c: openai.OpenAI):
    # no-store: every call goes upstream (a cache hit costs nothing and is not admitted).
    return c.chat.completions.with_raw_response.create(
        model=MODEL, max_tokens=8, messages=[{"role": "user", "content": "refuse me?"}],
        extra_headers={"cache-control": "no-store"})


def test_refusals_reach_usage_the_dashboard_and_the_cli(refusing_gate):
    gate, store = refusing_gate
    with pytest.raises(openai.AuthenticationError):
        chat(client(gate, "fg-not-a-real-key-000000"))
    for _ in range(2):
        with pytest.raises(openai.RateLimitError):
            chat(client(gate, BROKE_KEY))

    admin = {"authorization": f"Bearer {ADMIN_KEY}"}
    usage = httpx.get(gate.base_url + "/admin/usage", headers=admin).json()["data"]
    broke = [r for r in usage if r["team"] == "broke"]
    assert [(r["model"], r["refused"], r["refused_by"]) for r in broke] == [("", 2, {"budget": 2})]
    anonymous = [r for r in usage if r["team"] == ""]
    assert [(r["refused"], r["refused_by"]) for r in anonymous] == [(1, {"auth": 1})]

    dashboard = httpx.get(gate.base_url + "/admin/dashboard.json?hours=1", headers=admin).json()
    assert dashboard["totals"]["refused"] >= 3
    assert dashboard["errors"]["refused_by"]["budget"] >= 2
    assert float(dashboard["errors"]["error_rate"]) > 0

    # The CLI reads the same ledger while the server runs.
    out = subprocess.run(
        [flashgate_bin(), "usage", "--store", str(store), "--team", "broke", "--json"],
        check=True, capture_output=True, text=True).stdout
    rows = json.loads(out)
    assert [(r["refused"], r["refused_by"]) for r in rows] == [(2, {"budget": 2})]
    table = subprocess.run(
        [flashgate_bin(), "usage", "--store", str(store), "--team", "broke"],
        check=True, capture_output=True, text=True).stdout
    assert "REFUSED" in table.splitlines()[0]


def test_a_soft_budget_answers_and_names_itself(refusing_gate):
    gate, _ = refusing_gate
    c = client(gate, LAVISH_KEY)
    for _ in range(2):
        raw = chat(c)
        assert raw.http_response.status_code == 200
        assert raw.headers["x-flashgate-budget-exceeded"] == "team:lavish:month"
        assert raw.parse().choices[0].message.content
    with c.chat.completions.with_streaming_response.create(
        model=MODEL, max_tokens=8, stream=True, messages=[{"role": "user", "content": "stream"}],
        extra_headers={"cache-control": "no-store"},
    ) as stream:
        assert stream.headers["x-flashgate-budget-exceeded"] == "team:lavish:month"
        assert any(line.startswith("data: [DONE]") for line in stream.iter_lines())
    # One warning for the period, not one per call.
    warnings = [line for line in gate.log_path.read_text().splitlines() if "a soft budget is exceeded" in line]
    assert len(warnings) == 1, warnings
    admin = {"authorization": f"Bearer {ADMIN_KEY}"}
    budgets = httpx.get(gate.base_url + "/admin/dashboard.json", headers=admin).json()["budgets"]
    lavish = next(b for b in budgets if b["budget"] == "team:lavish:month")
    assert lavish["over_limit"] is True
    metrics = httpx.get(gate.base_url + "/metrics").text
    assert 'flashgate_budget_soft_exceeded_total{team="lavish",budget="month"} 3' in metrics


def test_the_page_shows_refusals_and_the_soft_budget_badge(refusing_gate, tmp_path):
    from test_dashboard import DomIndex, chromium_path, run_chromium

    browser = chromium_path()
    if browser is None:
        pytest.skip("no chromium on PATH; `make test` installs Debian's chromium (.ci/apt-install-missing.sh chromium)")
    gate, _ = refusing_gate
    url = f"{gate.base_url}/dashboard#key={ADMIN_KEY}"
    dumped = run_chromium(browser, tmp_path, "--dump-dom", url)
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    dom = DomIndex()
    dom.feed(dumped.stdout)
    assert dom.body.get("data-ready") == "1", f"the page never rendered: state={dom.body.get('data-state')}"
    d = httpx.get(gate.base_url + "/admin/dashboard.json", headers={"authorization": f"Bearer {ADMIN_KEY}"}).json()
    assert dom.find(data_metric="summary_refused")[0]["data-value"] == str(d["totals"]["refused"])
    assert float(dom.find(data_metric="error_rate")[0]["data-value"]) == d["errors"]["error_rate"] > 0
    for reason, count in d["errors"]["refused_by"].items():
        assert dom.find(data_refused=reason)[0]["data-value"] == str(count)
    badges = dom.find(data_badge="over-soft-limit")
    assert len(badges) == 1, "only the soft budget over its limit is marked"
    screenshot = tmp_path / "refusals.png"
    shot = run_chromium(browser, tmp_path, f"--screenshot={screenshot}", "--window-size=1280,1400", url)
    assert shot.returncode == 0, shot.stderr[-2000:]
    print(f"dashboard screenshot: {screenshot}")
