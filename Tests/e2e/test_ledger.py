"""`flashgate ledger stats | export | compact` against a real store: stats while serving, compact
refused while a server holds the ledger, export sums equal to `flashgate usage`, and a compacted
ledger that reads the same."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from decimal import Decimal
from pathlib import Path

import httpx

from conftest import MODEL, flashgate_bin, start_flashgate


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([flashgate_bin(), *args], capture_output=True, text=True, timeout=60)


def usage_totals(store: str) -> tuple[int, int, Decimal]:
    rows = json.loads(run("usage", "--store", store, "--json").stdout)
    return (sum(r["requests"] for r in rows), sum(r["cache_hits"] for r in rows),
            sum(Decimal(str(r["cost_usd"])) for r in rows))


def test_ledger_commands(tmp_path: Path):
    gate = start_flashgate("ledger-cli", tmp_path)
    store = str(tmp_path / "ledger-cli-store")
    try:
        url = f"{gate.base_url}/v1/chat/completions"
        for text in ["same", "same", "same", "other"]:
            body = {"model": MODEL, "messages": [{"role": "user", "content": text}]}
            assert httpx.post(url, json=body, timeout=30).status_code == 200
        stats = run("ledger", "stats", "--store", store, "--json")
        assert stats.returncode == 0, stats.stderr
        assert json.loads(stats.stdout)["rows"] >= 1
        refused = run("ledger", "compact", "--store", store)
        assert refused.returncode == 3, refused.stdout + refused.stderr
        assert "open in process" in refused.stderr
    finally:
        assert gate.stop() == 0

    # A clean stop hands every lease back: nothing is left open to charge at the next start.
    after = json.loads(run("ledger", "stats", "--store", store, "--json").stdout)
    assert after["open_leases"] == 0 and after["leased_usd"] == "0.000000"
    requests, hits, cost = usage_totals(store)
    assert requests == 4 and hits == 2
    lines = run("ledger", "export", "--store", store, "--format", "jsonl").stdout.splitlines()
    items = [json.loads(line) for line in lines]
    assert {item["kind"] for item in items} == {"row", "rollup"}
    assert sum(item["requests"] for item in items) == requests
    assert sum(Decimal(str(item["cost_usd"])) for item in items) == cost
    table = list(csv.DictReader(io.StringIO(run("ledger", "export", "--store", store, "--format", "csv").stdout)))
    assert sum(int(r["requests"]) for r in table) == requests
    assert all(len(r["cost_usd"].split(".")[1]) == 6 for r in table)
    assert run("ledger", "export", "--store", store, "--format", "xml").returncode != 0

    compacted = run("ledger", "compact", "--store", store)
    assert compacted.returncode == 0, compacted.stderr
    assert usage_totals(store) == (requests, hits, cost)
    assert "rows" in run("ledger", "stats", "--store", store).stdout
    assert "compact" in run("ledger", "--help").stdout



def test_usage_days_outside_their_range_are_refused_not_a_crash(tmp_path: Path):
    """`flashgate usage --days` past what milliseconds hold had overflowed and crashed the command
    on a real ledger: it is a usage error (exit 64, naming --days) like any other bad option; in
    range it reads."""
    gate = start_flashgate("days", tmp_path)
    store = str(tmp_path / "days-store")
    assert gate.stop() == 0
    for days in ["9223372036854775807", "36501", "0", "-1"]:
        result = run("usage", "--store", store, "--days", days)
        assert result.returncode == 64, (days, result.returncode, result.stderr)
        assert "--days" in result.stderr, result.stderr
    for days in ["1", "36500"]:
        result = run("usage", "--store", store, "--days", days, "--json")
        assert result.returncode == 0, (days, result.stderr)
        assert json.loads(result.stdout) == []


def test_commands_on_a_missing_store_fail(tmp_path):
    """A mistyped --store must not look like a purge that worked: every store command on a
    directory without a store exits 1 and says so on stderr (the cache commands had exited 0)."""
    missing = str(tmp_path / "nope")
    for args in (("cache", "stats"), ("cache", "purge", "--all"), ("ledger", "stats"), ("usage",)):
        done = run(*args, "--store", missing)
        assert done.returncode == 1, (args, done.returncode, done.stdout, done.stderr)
        assert "nope" in done.stderr, (args, done.stderr)


def test_store_tools_read_a_config_without_its_secrets(tmp_path: Path):
    """`ledger`, `usage` and `cache` with `--config` need only where the store is: on a host
    without the upstream or admin key (variables unset, key file absent) they work. They had
    exited 2 with "environment variable … is not set"; `check` still insists."""
    gate = start_flashgate("secretless", tmp_path)
    with httpx.Client(timeout=30) as client:
        answer = client.post(f"{gate.base_url}/v1/chat/completions", headers={"cache-control": "no-store"},
                             json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}]})
        assert answer.status_code == 200, answer.text
    assert gate.stop() == 0
    config = tmp_path / "secretless.yaml"
    config.write_text(f"""store:
  path: {tmp_path / "secretless-store"}
routes:
  - name: studio
    kind: gemini
    api_keys_env: [FG_E2E_UNSET_ONE, FG_E2E_UNSET_TWO]
  - name: backup
    kind: gemini
    api_key_file: /nonexistent/flashgate-key
accounting:
  admin_key_env: FG_E2E_UNSET_ADMIN
""")
    for args in (["ledger", "stats"], ["ledger", "export"], ["usage"], ["cache", "stats"]):
        result = run(*args, "--config", str(config))
        assert result.returncode == 0, f"{args}: {result.stderr}"
    assert "1" in run("usage", "--config", str(config), "--json").stdout
    checked = run("check", "--config", str(config))
    assert checked.returncode != 0 and "FG_E2E_UNSET" in checked.stderr
