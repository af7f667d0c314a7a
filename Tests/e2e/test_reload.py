"""Config reload on SIGHUP, through a real process: a good file changes the models served, a bad
file is refused with a logged reason while the running config keeps serving, and the process
still stops cleanly on SIGTERM.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx

from conftest import Flashgate, start_flashgate_with_config

RELOAD_POLLS = 200
RELOAD_INTERVAL_S = 0.05


def config(upstream: str, models: list[str]) -> str:
    lines = "\n".join(f"  - {{ id: {model}, route: mockup, upstream_model: {model} }}" for model in models)
    # The made-up upstream models need a price: no price, no call.
    prices = "\n".join(f"  {model}: {{ input: \"1.00\", output: \"2.00\" }}" for model in models)
    return f"""
routes:
  - name: mockup
    kind: gemini
    base_url: {upstream}
    api_key_env: FG_RELOAD_KEY
models:
{lines}
prices:
{prices}
"""


def chat(gate: Flashgate, model: str) -> httpx.Response:
    return httpx.post(
        f"{gate.base_url}/v1/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": f"hello {model}"}]},
        headers={"authorization": "Bearer sk-test", "cache-control": "no-store"},
        timeout=30,
    )


def log_lines(gate: Flashgate, text: str) -> list[str]:
    return [line for line in gate.log_path.read_text(errors="replace").splitlines() if text in line]


def hup_and_wait(gate: Flashgate, text: str) -> str:
    """Sends SIGHUP and waits for one more log line containing `text`."""
    before = len(log_lines(gate, text))
    gate.process.send_signal(signal.SIGHUP)
    for _ in range(RELOAD_POLLS):
        lines = log_lines(gate, text)
        if len(lines) > before:
            return lines[-1]
        assert gate.process.poll() is None, f"flashgate exited after SIGHUP:\n{gate.log_tail()}"
        time.sleep(RELOAD_INTERVAL_S)
    raise AssertionError(f"no '{text}' line after SIGHUP:\n{gate.log_tail()}")


def test_sighup_applies_a_good_file_and_refuses_a_bad_one(gateways, workdir: Path):
    upstream = gateways.upstream.base_url
    gate = start_flashgate_with_config(
        "reload", workdir, config(upstream, ["alpha", "gamma"]), env={"FG_RELOAD_KEY": "k"})
    path = workdir / "reload.yaml"
    try:
        assert chat(gate, "alpha").status_code == 200
        assert chat(gate, "gamma").status_code == 200
        assert chat(gate, "beta").status_code == 404

        path.write_text(config(upstream, ["alpha", "beta"]))
        line = hup_and_wait(gate, "configuration reloaded")
        assert "models=2" in line and "routes=1" in line
        assert chat(gate, "beta").status_code == 200
        assert chat(gate, "gamma").status_code == 404
        assert chat(gate, "alpha").status_code == 200

        # Invalid YAML, then a missing environment variable: both refused, nothing changes.
        for bad in ("routes: [ {\n", config(upstream, ["delta"]).replace("FG_RELOAD_KEY", "FG_RELOAD_UNSET")):
            path.write_text(bad)
            line = hup_and_wait(gate, "configuration reload refused")
            assert "level=error" in line and "reason=" in line
            assert chat(gate, "beta").status_code == 200
            assert chat(gate, "delta").status_code == 404
        assert httpx.get(f"{gate.base_url}/readyz", timeout=5).status_code == 200
    finally:
        code = gate.stop()
    assert code == 0, f"reload flashgate exited with {code} after SIGTERM:\n{gate.log_tail()}"
