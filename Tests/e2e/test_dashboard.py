"""The spend dashboard: /admin/dashboard.json from real traffic, and /dashboard rendered by a real
headless Chromium (Debian's `chromium`; `make test` installs it).

A Flashgate with two teams, keys with budgets and an admin key sits in front of the session's mock
upstream. Requests made with httpx fill its ledger; the JSON is checked, then the page is loaded
with the admin key in the URL fragment and the rendered DOM is compared with the JSON. A
screenshot is saved under the test's tmp dir and its path printed (run with -s to see it).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from conftest import MODEL, Flashgate, flashgate_bin, free_port

ADMIN_KEY = "fg-admin-dashboard-0123456789"
KEYS = {"ci": ("search", "fg-ci-dashboard-0123456789"), "ads-bot": ("ads", "fg-ads-dashboard-0123456789")}


def sha(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture(scope="module")
def dashboard_gate(gateways, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dashboard")
    config = tmp / "flashgate.yaml"
    config.write_text(f"""
routes:
  - name: mockup
    kind: gemini
    base_url: {gateways.upstream.base_url}
    api_key_env: GEMINI_API_KEY
    passthrough: true
teams:
  - id: search
    max_output_tokens: 256
    budgets:
      - {{ period: day, limit_usd: "1.00", mode: hard }}
      - {{ period: month, limit_usd: "20.00", mode: soft }}
  - id: ads
    max_output_tokens: 256
    budgets:
      - {{ period: day, limit_usd: "0.50", mode: hard }}
keys:
  - name: ci
    team: search
    hash: "{sha(KEYS['ci'][1])}"
    budgets:
      - {{ period: total, limit_usd: "5" }}
  - name: ads-bot
    team: ads
    hash: "{sha(KEYS['ads-bot'][1])}"
accounting:
  admin_key_env: FLASHGATE_ADMIN_KEY
""")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "GEMINI_API_KEY"}
    env.update(GEMINI_API_KEY="test-key", FLASHGATE_ADMIN_KEY=ADMIN_KEY)
    log_path = tmp / "dashboard.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [flashgate_bin(), "serve", "--config", str(config), "--host", "127.0.0.1", "--port", str(port),
             "--store", str(tmp / "store")],
            env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    gate = Flashgate(name="dashboard", process=process, port=port, log_path=log_path)
    try:
        gate.wait_ready()
        make_traffic(gate.base_url)
        yield gate, tmp
    finally:
        code = gate.stop()
        assert code == 0, f"dashboard flashgate exited with {code}:\n{gate.log_tail()}"


def make_traffic(base_url: str) -> None:
    def chat(key: str, text: str, **headers):
        response = httpx.post(
            f"{base_url}/v1/chat/completions", timeout=30,
            headers={"authorization": f"Bearer {KEYS[key][1]}", **headers},
            json={"model": MODEL, "max_tokens": 64, "messages": [{"role": "user", "content": text}]})
        return response

    for i in range(6):
        assert chat("ci", f"search question {i} " + "detail " * (i * 20)).status_code == 200
    # The same body again: a cache hit at $0.
    assert chat("ci", "search question 0 ").headers.get("x-flashgate-cache") == "hit"
    for i in range(3):
        assert chat("ads-bot", f"ad copy {i}", **{"cache-control": "no-store"}).status_code == 200


def admin_json(base_url: str, **params) -> dict:
    response = httpx.get(f"{base_url}/admin/dashboard.json", params=params,
                         headers={"authorization": f"Bearer {ADMIN_KEY}"}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def test_dashboard_json(dashboard_gate):
    gate, _ = dashboard_gate
    assert httpx.get(f"{gate.base_url}/admin/dashboard.json", timeout=10).status_code == 401
    assert httpx.get(f"{gate.base_url}/admin/dashboard.json", timeout=10,
                     headers={"authorization": f"Bearer {KEYS['ci'][1]}"}).status_code == 401
    d = admin_json(gate.base_url)
    assert d["window"]["hours"] == 24 and d["window"]["bucket_seconds"] == 3600
    assert d["totals"]["requests"] == 10
    teams = {t["team"]: t for t in d["spend_series"]["teams"]}
    assert set(teams) == {"search", "ads"}
    assert teams["search"]["requests"] == 7 and teams["ads"]["requests"] == 3
    assert len(teams["search"]["bucket_cost_usd"]) == len(d["spend_series"]["buckets"])
    total = sum(round(float(t["cost_usd"]) * 1e6) for t in teams.values())
    assert total == round(float(d["totals"]["cost_usd"]) * 1e6) > 0
    budgets = {b["budget"]: b for b in d["budgets"]}
    assert set(budgets) == {"team:search:day", "team:search:month", "team:ads:day", "key:ci:total"}
    assert budgets["team:search:day"]["spent_usd"] == teams["search"]["cost_usd"]
    assert budgets["key:ci:total"]["projected_usd"] is None
    assert budgets["team:ads:day"]["projected_usd"] is not None
    assert d["cache"]["hits"] == 1 and d["cache"]["misses"] == 6 and d["cache"]["bypass"] == 3
    assert float(d["cache"]["saved_usd"]) > 0
    assert d["models"][0]["model"] == MODEL and d["models"][0]["requests"] == 10
    assert d["routes"][0]["route"] == "mockup"
    assert d["errors"]["by_outcome"] == {"ok": 10}
    # Top requests are request rows: the cache hit is a count in its hourly rollup, not a row.
    assert len(d["top_requests"]) == 9
    assert {r["key"] for r in d["top_requests"]} == {"ci", "ads-bot"}
    short = admin_json(gate.base_url, hours=1)
    assert short["window"]["bucket_seconds"] == 300
    text = json.dumps(d)
    assert ADMIN_KEY not in text and all(secret not in text for _, secret in KEYS.values())


def test_dashboard_page_headers(dashboard_gate):
    gate, _ = dashboard_gate
    page = httpx.get(f"{gate.base_url}/dashboard", timeout=10)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["content-security-policy"].startswith(
        "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'")


class DomIndex(HTMLParser):
    """Every element's tag and attributes, and the text of `td` cells."""

    def __init__(self):
        super().__init__()
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.body: dict[str, str] = {}
        self.cells: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attributes = {k: v or "" for k, v in attrs}
        self.elements.append((tag, attributes))
        if tag == "body":
            self.body = attributes
        if tag == "td":
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            self.cells.append("".join(self._cell))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)

    def find(self, **attrs) -> list[dict[str, str]]:
        want = {k.replace("_", "-"): v for k, v in attrs.items()}
        return [a for _, a in self.elements if all(a.get(k) == v if v is not True else k in a for k, v in want.items())]


def run_chromium(browser: str, tmp: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
         "--hide-scrollbars", f"--user-data-dir={tmp / 'chromium-profile'}", "--virtual-time-budget=8000", *args],
        capture_output=True, text=True, timeout=120)


def test_dashboard_in_headless_chromium(dashboard_gate):
    browser = chromium_path()
    if browser is None:
        pytest.skip("no chromium on PATH; `make test` installs Debian's chromium (.ci/apt-install-missing.sh chromium)")
    gate, tmp = dashboard_gate
    url = f"{gate.base_url}/dashboard#key={ADMIN_KEY}"

    dumped = run_chromium(browser, tmp, "--dump-dom", url)
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    dom = DomIndex()
    dom.feed(dumped.stdout)
    assert dom.body.get("data-ready") == "1", f"the page never rendered: state={dom.body.get('data-state')}"
    assert dom.body.get("data-state") == "ok"

    d = admin_json(gate.base_url)
    for team in d["spend_series"]["teams"]:
        series = dom.find(data_series=f"team:{team['team']}")
        assert len(series) == 1, team["team"]
        assert series[0]["data-total-usd"] == team["cost_usd"]
        assert series[0]["data-requests"] == str(team["requests"])
    # Every bucket with spend is a bar.
    bars = [a for tag, a in dom.elements if tag == "rect" and "data-bucket" in a]
    assert len(bars) == sum(1 for t in d["spend_series"]["teams"] for n in t["bucket_requests"] if n)

    for budget in d["budgets"]:
        found = dom.find(data_budget=budget["budget"])
        assert len(found) == 1, budget["budget"]
        for metric in ("spent_usd", "limit_usd", "remaining_usd"):
            # The DOM's budget cards come in JSON order; pick this budget's values by position.
            values = [a["data-value"] for a in dom.find(data_metric=metric)]
            assert budget[metric] in values
    assert len(dom.find(data_line="spent")) == len(d["budgets"])
    assert len(dom.find(data_line="limit")) == len(d["budgets"])
    # A dashed projection for every budget with a period end (not the total one).
    assert len(dom.find(data_line="projection")) == sum(1 for b in d["budgets"] if b["projected_usd"] is not None)

    assert dom.find(data_metric="total_cost_usd")[0]["data-value"] == d["totals"]["cost_usd"]
    assert dom.find(data_metric="requests")[0]["data-value"] == str(d["totals"]["requests"])
    assert float(dom.find(data_metric="hit_ratio")[0]["data-value"]) == d["cache"]["hit_ratio"]
    assert dom.find(data_metric="saved_usd")[0]["data-value"] == d["cache"]["saved_usd"]
    assert dom.find(data_metric="hits")[0]["data-value"] == str(d["cache"]["hits"])
    assert float(dom.find(data_metric="retry_rate")[0]["data-value"]) == d["errors"]["retry_rate"]
    assert float(dom.find(data_metric="error_rate")[0]["data-value"]) == d["errors"]["error_rate"]
    assert dom.find(data_model=MODEL)[0]["data-requests"] == str(d["models"][0]["requests"])
    assert dom.find(data_route="mockup")[0]["data-cost-usd"] == d["routes"][0]["cost_usd"]
    rows = dom.find(data_request=True)
    assert len(rows) == len(d["top_requests"]) == 9
    assert [r["data-cost-usd"] for r in rows] == [r["cost_usd"] for r in d["top_requests"]]
    assert "ads-bot" in dom.cells and "ci" in dom.cells
    assert ADMIN_KEY not in dumped.stdout

    # The admin key only ever travelled in the fragment; without it the page asks for one.
    bare = run_chromium(browser, tmp / "bare", "--dump-dom", f"{gate.base_url}/dashboard")
    bare_dom = DomIndex()
    bare_dom.feed(bare.stdout)
    assert bare_dom.body.get("data-state") == "unauthorized" and bare_dom.body.get("data-ready") == "0"
    assert "admin key needed" in bare.stdout
    wrong = run_chromium(browser, tmp / "wrong", "--dump-dom", f"{gate.base_url}/dashboard#key=not-the-key")
    wrong_dom = DomIndex()
    wrong_dom.feed(wrong.stdout)
    assert wrong_dom.body.get("data-state") == "unauthorized"

    screenshot = tmp / "dashboard.png"
    shot = run_chromium(browser, tmp, f"--screenshot={screenshot}", "--window-size=1280,1600", url)
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert screenshot.stat().st_size > 10_000
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    print(f"dashboard screenshot: {screenshot}")
