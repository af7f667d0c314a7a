"""Budgets shared across hosts through a real redis-server, with real flashgate processes.

Three hosts on one Redis, 64 concurrent clients spread across them with random request sizes,
one hard budget: the spend across the cluster never passes the limit, every host serves a
share, and a host killed with -9 mid-load has its lease cut back to its bound on unreported spend
once the lease expires (that part stays counted, burned, until it comes back and reconciles from
its own ledger; the rest returns). Redis stopped mid-load: no request hangs, hard
budgets refuse with 503 budget_unavailable once leases run out, and service comes back with Redis.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from conftest import flashgate_bin, start_flashgate_with_config

KEY = "fg-shared-test-key-000000000000000"
ADMIN = {"authorization": "Bearer shared-admin"}
POLL_S = 0.05


class Upstream(ThreadingHTTPServer):
    """A Gemini that answers every prompt, with usage that grows with the prompt and a random
    number of output tokens within the request's max_tokens."""
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
        limit = body.get("generationConfig", {}).get("maxOutputTokens", 100)
        prompt = len(json.dumps(body.get("contents", []))) // 4
        out = random.randint(1, max(1, limit))
        answer = {"candidates": [{"content": {"role": "model", "parts": [{"text": "ok"}]}, "finishReason": "STOP"}],
                  "usageMetadata": {"promptTokenCount": prompt, "candidatesTokenCount": out,
                                    "totalTokenCount": prompt + out}}
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class Redis:
    """redis-server on a Unix socket in `directory`, without persistence."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.socket = str(directory / "redis.sock")
        self.process: subprocess.Popen | None = None

    def start(self):
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.process = subprocess.Popen(
            [binary, "--port", "0", "--unixsocket", self.socket, "--save", "", "--appendonly", "no",
             "--dir", str(self.directory)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        for line in self.process.stdout:
            if b"ready to accept connections" in line.lower():
                threading.Thread(target=lambda: [None for _ in self.process.stdout], daemon=True).start()
                return
        raise RuntimeError("redis-server exited before it was ready")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def cli(self, *args: str) -> str:
        return subprocess.run([shutil.which("redis-cli") or "redis-cli", "-s", self.socket, *args],
                              capture_output=True, text=True, check=True).stdout


def config(upstream: Upstream, redis: Redis, limit: str, ttl: str = "30s") -> str:
    return f"""
routes:
  - name: studio
    kind: gemini
    base_url: http://127.0.0.1:{upstream.server_address[1]}
    api_key_env: FAKE_GEMINI_KEY
    passthrough: true
accounting:
  admin_key_env: FLASHGATE_ADMIN_KEY
teams:
  - id: shared
    budgets:
      - period: month
        limit_usd: "{limit}"
keys:
  - name: shared
    team: shared
    hash: sha256:{hashlib.sha256(KEY.encode()).hexdigest()}
shared:
  address: {redis.socket}
  lease_ttl: {ttl}
  lease_calls: 20
  unreported_calls: 2
  min_chunk: "0.001"
  reconnect_min: 50ms
  reconnect_max: 500ms
  # A loaded CI machine must not look like a Redis outage; the outage here is a stopped server.
  connect_timeout: 2s
  command_timeout: 2s
"""


def start_host(workdir: Path, name: str, text: str):
    return start_flashgate_with_config(name, workdir, text, env={
        "FAKE_GEMINI_KEY": "k", "FLASHGATE_ADMIN_KEY": "shared-admin", "FLASHGATE_HOST_ID": name})


def ask(client: httpx.Client, url: str, rng: random.Random) -> httpx.Response:
    words = " ".join("word" for _ in range(rng.randint(1, 400)))
    return client.post(f"{url}/v1/chat/completions", timeout=10, headers={
        "authorization": f"Bearer {KEY}", "cache-control": "no-store"}, json={
        "model": "gemini-2.5-flash", "max_tokens": rng.randint(16, 1000),
        "messages": [{"role": "user", "content": words}]})


def budget(url: str) -> dict:
    return httpx.get(f"{url}/admin/budgets", headers=ADMIN, timeout=5).json()


def micro(text) -> int:
    return round(float(str(text)) * 1_000_000)


def wait_for(condition, what: str, polls: int = 400):
    for _ in range(polls):
        if condition():
            return
        time.sleep(POLL_S)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def cluster_parts(tmp_path):
    upstream = Upstream()
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    redis = Redis(tmp_path)
    redis.start()
    hosts = []
    yield upstream, redis, hosts
    for host in hosts:
        if host.process.poll() is None:
            host.process.kill()
            host.process.wait()
    redis.stop()
    upstream.shutdown()


def test_three_hosts_share_a_hard_budget_and_a_killed_host_stays_counted(tmp_path, cluster_parts):
    upstream, redis, hosts = cluster_parts
    limit = "0.50"
    text = config(upstream, redis, limit, ttl="2s")
    hosts += [start_host(tmp_path, f"host-{i}", text) for i in range(3)]
    urls = [h.base_url for h in hosts]
    answered: list[tuple[int, int]] = []  # (host, cost µ$)
    lock = threading.Lock()
    killed = threading.Event()

    def client(index: int):
        rng = random.Random(index)
        host = index % 3
        refused_in_a_row = 0
        with httpx.Client() as http:
            while refused_in_a_row < 10:
                try:
                    r = ask(http, urls[host], rng)
                except httpx.TransportError:
                    if not killed.is_set():
                        raise
                    host = (host + 1) % 2  # its host is gone: go to a live one
                    continue
                if r.status_code == 200:
                    refused_in_a_row = 0
                    with lock:
                        answered.append((host, micro(r.headers["x-flashgate-cost-usd"])))
                        if len(answered) == 150 and not killed.is_set():
                            hosts[2].process.send_signal(signal.SIGKILL)
                            killed.set()
                else:
                    assert r.status_code == 429, r.text
                    assert r.json()["error"]["code"] == "insufficient_quota"
                    refused_in_a_row += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(64)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a client hung"
    assert killed.is_set(), "the load ended before a host was killed"
    hosts[2].process.wait()

    spent = sum(cost for _, cost in answered)
    assert spent <= micro(limit), f"answered calls cost {spent} µ$ of a {micro(limit)} µ$ limit"
    per_host = [sum(c for h, c in answered if h == i) for i in range(3)]
    assert all(p > 0 for p in per_host), f"spend per host {per_host}"

    # The killed host's lease expires (2 s); its bound stays burned, still counted: the cluster
    # view of a live host shows it, and Redis never escrowed more than the limit.
    wait_for(lambda: micro(budget(urls[0])["data"][0].get("cluster", {}).get("burned_usd", 0)) > 0,
             "the dead host's lease to show as burned")
    budget_key = next(k for k in redis.cli("KEYS", "*").split() if "budget" in k)

    def fields() -> dict[str, int]:
        items = redis.cli("HGETALL", budget_key).split()
        return {k: int(v) for k, v in zip(items[::2], items[1::2])}

    # Its lease returns after expiry: the live hosts' heartbeats cut its cap down to its bound on
    # unreported spend (t:), which stays counted; what it held beyond that is the cluster's again.
    # (Killed after 150 answers, it holds a lease of ~20 calls and a bound of a few.)
    wait_for(lambda: "x:host-2" in fields(), "the dead host's lease to be cut to its bound")
    values = fields()
    assert values["c:host-2"] == values["t:host-2"] == values["x:host-2"], values
    assert values["c:host-2"] > values["s:host-2"], "what it may have spent unreported stays counted"
    assert sum(v for k, v in values.items() if k.startswith("c:")) <= micro(limit)
    assert sum(v for k, v in values.items() if k.startswith("s:")) <= micro(limit)

    # Back on its own ledger: it reconciles, and nothing is burned any more.
    hosts[2] = start_host(tmp_path, "host-2", text)
    wait_for(lambda: micro(budget(urls[0])["data"][0].get("cluster", {}).get("burned_usd", 1)) == 0,
             "the restarted host to reconcile its lease")
    assert micro(budget(urls[0])["data"][0]["cluster"]["settled_usd"]) <= micro(limit)

    # The same from the command line: this host's spend beside the cluster's, read from Redis.
    env = {**os.environ, "FAKE_GEMINI_KEY": "k", "FLASHGATE_ADMIN_KEY": "shared-admin"}
    out = subprocess.run([flashgate_bin(), "usage", "--config", str(tmp_path / "host-2.yaml"),
                          "--store", str(tmp_path / "host-2-store"), "--budgets"],
                         capture_output=True, text=True, env=env, check=True).stdout
    row = next(line.split() for line in out.splitlines() if line.startswith("team:shared:month"))
    assert row[2] == "hard" and micro(row[3]) == micro(limit)
    assert micro(row[4]) <= micro(row[5]) <= micro(limit), out  # this host's settled, the cluster's
    assert row[8] == "3/3", out
    for host in hosts:
        assert host.stop() == 0


def test_redis_stopped_mid_load_refuses_without_hanging_and_recovers(tmp_path, cluster_parts):
    upstream, redis, hosts = cluster_parts
    # Redis comes back empty: it grants nothing for one lease TTL while the hosts re-report.
    text = config(upstream, redis, "1000", ttl="1s")
    hosts += [start_host(tmp_path, f"host-{i}", text) for i in range(2)]
    urls = [h.base_url for h in hosts]
    statuses: list[int] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client(index: int):
        rng = random.Random(100 + index)
        with httpx.Client() as http:
            while not stop.is_set():
                r = ask(http, urls[index % 2], rng)  # a hang raises httpx.ReadTimeout and fails the test
                if r.status_code != 200:
                    assert r.status_code == 503, r.text
                    assert r.json()["error"]["code"] == "budget_unavailable"
                with lock:
                    statuses.append(r.status_code)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    try:
        wait_for(lambda: len(statuses) >= 100, "load to start")
        redis.stop()
        wait_for(lambda: 503 in statuses, "hosts to run out of held leases")
        assert budget(urls[0])["shared"]["redis"] == "unreachable"
        assert httpx.get(f"{urls[0]}/readyz", timeout=5).json()["shared"]["redis"] == "unreachable"
        redis.start()
        mark = len(statuses)
        wait_for(lambda: statuses[mark:].count(200) >= 50, "service to recover when Redis is back")
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    assert not any(t.is_alive() for t in threads), "a client hung"
    for host in hosts:
        assert host.stop() == 0
