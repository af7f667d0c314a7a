"""kill -9 with requests in flight.

Under `ledger.durability: per_request` every answered request is in the ledger after a restart,
and the reservations the crash left open are settled (at their reserved amount) at the next start.
Under budget leases (the default) the answered calls' money is never under-counted: what the open
lease holds is charged as spent at the next start, and Flashgate restarts."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
from pathlib import Path

from conftest import flashgate_bin, free_port, Flashgate

KEY = "fg-crash-test-key-0000000000000000"
ANSWER = {"candidates": [{"content": {"role": "model", "parts": [{"text": "ok"}]}, "finishReason": "STOP"}],
          "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 2, "totalTokenCount": 6}}


class SlowGemini(ThreadingHTTPServer):
    """Answers at once, except prompts containing "hold", which wait until released."""
    daemon_threads = True

    def __init__(self):
        self.release = threading.Event()
        self.held = threading.Semaphore(0)
        super().__init__(("127.0.0.1", 0), Handler)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        if b"hold" in body:
            self.server.held.release()
            self.server.release.wait(30)
        data = json.dumps(ANSWER).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def start(config: str, store: str, port: int, log) -> Flashgate:
    process = subprocess.Popen([flashgate_bin(), "serve", "--config", config, "--port", str(port), "--store", store],
                               stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    gate = Flashgate(name="crash", process=process, port=port, log_path=Path(log.name))
    gate.wait_ready()
    return gate


def test_sigkill_loses_no_settled_spend_and_recovers_open_reservations(tmp_path):
    crash_with_calls_in_flight(tmp_path, "per_request")


def test_sigkill_under_leases_never_undercounts_and_restarts(tmp_path):
    crash_with_calls_in_flight(tmp_path, "lease")


def crash_with_calls_in_flight(tmp_path, durability: str):
    upstream = SlowGemini()
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    config = tmp_path / "flashgate.yaml"
    config.write_text(f"""
ledger:
  durability: {durability}
routes:
  - name: slow
    kind: gemini
    base_url: http://127.0.0.1:{upstream.server_address[1]}
    passthrough: true
teams:
  - id: crashers
    max_output_tokens: 100
    budgets:
      - period: total
        limit_usd: "10"
keys:
  - name: crash
    team: crashers
    hash: sha256:{hashlib.sha256(KEY.encode()).hexdigest()}
""")
    store = str(tmp_path / "store")
    port = free_port()
    headers = {"authorization": f"Bearer {KEY}", "cache-control": "no-store"}
    url = f"http://127.0.0.1:{port}/v1/chat/completions"

    def ask(text: str):
        return httpx.post(url, headers=headers, timeout=30,
                          json={"model": "gemini-3.5-flash", "max_tokens": 50, "messages": [{"role": "user", "content": text}]})

    with open(tmp_path / "first.log", "wb") as log:
        gate = start(str(config), store, port, log)
        try:
            answered = [ask(f"fast {i}") for i in range(5)]
            assert all(a.status_code == 200 for a in answered)
            paid = sum(round(float(a.headers["x-flashgate-cost-usd"]) * 1_000_000) for a in answered)

            in_flight = [threading.Thread(target=lambda i=i: _swallow(ask, f"hold {i}")) for i in range(3)]
            for t in in_flight:
                t.start()
            for _ in range(3):
                assert upstream.held.acquire(timeout=20), "the held requests never reached the upstream"
        finally:
            # The crash under test, and never a process left behind if an assertion failed first.
            gate.process.send_signal(signal.SIGKILL)
            gate.process.wait()
            upstream.release.set()
    upstream.release.set()
    for t in in_flight:
        t.join(timeout=30)

    with open(tmp_path / "second.log", "wb") as log:
        gate = start(str(config), store, port, log)
        try:
            usage = subprocess.run([flashgate_bin(), "usage", "--store", store, "--json"], capture_output=True, check=True)
            rows = json.loads(usage.stdout)
            total = sum(round(float(str(r["cost_usd"])) * 1_000_000) for r in rows)
            if durability == "per_request":
                assert sum(r["requests"] for r in rows) == 5 + 3
                # The three cut-off calls are charged their reservations, never $0.
                assert total > paid
            else:
                # The open lease (which covered the three cut-off calls) is charged as spent.
                assert total > paid
                budgets = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
                assert "flashgate_ledger_leased_usd" in budgets
            assert ask("after restart").status_code == 200
        finally:
            assert gate.stop() == 0
    upstream.shutdown()


def _swallow(ask, text):
    try:
        ask(text)
    except httpx.HTTPError:
        pass
