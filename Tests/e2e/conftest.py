"""Starts two Flashgate processes for the end-to-end suite.

* "upstream": offline mock mode (GEMINI_API_KEY unset), so it serves the built-in `mock` model
  and speaks the native Gemini API.
* "front": GEMINI_API_KEY set and `--upstream` pointing at the first one, listening on TCP and a
  Unix socket, so every request goes front -> libcurl -> upstream mock.

The binary is FLASHGATE_BIN (default .build/debug/flashgate). At the end of the session both get
SIGTERM and must exit 0 within 10 s, and the front's socket file must be gone.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
READY_POLLS = 200
READY_INTERVAL_S = 0.05
EXIT_TIMEOUT_S = 10.0
MODEL = "gemini-2.5-flash"


def flashgate_bin() -> str:
    path = os.environ.get("FLASHGATE_BIN", str(ROOT / ".build" / "debug" / "flashgate"))
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is not an executable: build flashgate first or set FLASHGATE_BIN", pytrace=False)
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Flashgate:
    """One running flashgate process and where it listens."""

    name: str
    process: subprocess.Popen
    port: int
    log_path: Path
    socket_path: str | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def wait_ready(self) -> None:
        for _ in range(READY_POLLS):
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} flashgate exited with {self.process.returncode} before it was ready:\n{self.log_tail()}"
                )
            try:
                if httpx.get(f"{self.base_url}/readyz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(READY_INTERVAL_S)
        raise RuntimeError(f"{self.name} flashgate not ready on {self.base_url}/readyz:\n{self.log_tail()}")

    def stop(self) -> int:
        """SIGTERM, then wait up to EXIT_TIMEOUT_S; kills and reports if it does not exit."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=EXIT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(
                f"{self.name} flashgate did not exit within {EXIT_TIMEOUT_S:.0f} s of SIGTERM:\n{self.log_tail()}"
            )


def start_flashgate(
    name: str, workdir: Path, *, upstream: str | None = None, api_key: str | None = None, socket_path: str | None = None
) -> Flashgate:
    port = free_port()
    store = workdir / f"{name}-store"
    args = [flashgate_bin(), "serve", "--host", "127.0.0.1", "--port", str(port), "--store", str(store)]
    if socket_path:
        args += ["--socket", socket_path]
    if upstream:
        args += ["--upstream", upstream]
    env = {k: v for k, v in os.environ.items() if k != "GEMINI_API_KEY"}
    if api_key:
        env["GEMINI_API_KEY"] = api_key
    log_path = workdir / f"{name}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    gate = Flashgate(name=name, process=process, port=port, log_path=log_path, socket_path=socket_path)
    try:
        gate.wait_ready()
    except Exception:
        if process.poll() is None:
            process.kill()
            process.wait()
        raise
    return gate


def start_flashgate_with_config(name: str, workdir: Path, config: str, *, env: dict[str, str] | None = None) -> Flashgate:
    """A flashgate started with `serve --config` from the YAML text `config` (written to
    workdir/<name>.yaml), on a free port, with its own store, plus `env` in its environment."""
    port = free_port()
    config_path = workdir / f"{name}.yaml"
    config_path.write_text(config)
    args = [flashgate_bin(), "serve", "--config", str(config_path), "--host", "127.0.0.1", "--port", str(port),
            "--store", str(workdir / f"{name}-store")]
    full_env = {k: v for k, v in os.environ.items() if k != "GEMINI_API_KEY"}
    full_env.update(env or {})
    log_path = workdir / f"{name}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(args, env=full_env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    gate = Flashgate(name=name, process=process, port=port, log_path=log_path)
    try:
        gate.wait_ready()
    except Exception:
        if process.poll() is None:
            process.kill()
            process.wait()
        raise
    return gate


@dataclass
class Gateways:
    upstream: Flashgate
    front: Flashgate

    @property
    def socket_path(self) -> str:
        assert self.front.socket_path
        return self.front.socket_path


@pytest.fixture(scope="session")
def workdir():
    # Short, so the Unix socket path stays far below the 108-byte sun_path limit.
    path = Path(tempfile.mkdtemp(prefix="fg-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def gateways(workdir: Path):
    upstream = start_flashgate("upstream", workdir)
    try:
        front = start_flashgate(
            "front", workdir, upstream=upstream.base_url, api_key="test-key", socket_path=str(workdir / "s.sock")
        )
    except Exception:
        upstream.stop()
        raise
    yield Gateways(upstream=upstream, front=front)

    problems = []
    for gate in (front, upstream):
        try:
            code = gate.stop()
            if code != 0:
                problems.append(f"{gate.name} exited with {code} after SIGTERM:\n{gate.log_tail()}")
        except AssertionError as error:
            problems.append(str(error))
    if os.path.exists(str(workdir / "s.sock")):
        problems.append(f"the socket file {workdir / 's.sock'} is still there after shutdown")
    assert not problems, "\n".join(problems)


@pytest.fixture(scope="session")
def front_url(gateways: Gateways) -> str:
    return gateways.front.base_url


@pytest.fixture(params=["tcp", "unix"])
def oai(request, gateways):
    """An openai client on the front Flashgate, over TCP and over the Unix socket."""
    import httpx
    import openai

    if request.param == "tcp":
        client = openai.OpenAI(base_url=f"{gateways.front.base_url}/v1", api_key="sk-test", max_retries=0, timeout=30)
    else:
        client = openai.OpenAI(
            base_url="http://localhost/v1",
            api_key="sk-test",
            max_retries=0,
            timeout=30,
            http_client=httpx.Client(transport=httpx.HTTPTransport(uds=gateways.socket_path)),
        )
    yield client
    client.close()


def until_cached(call, attempts: int = 100):
    """Calls `call` (returning a raw response) until the answer does not come from a joined flight.

    A repeat sent right after a miss may still find the first call's flight: it stays joinable
    until its answer is in the response cache, which is written off the response path, so the
    repeat is answered from the flight (`joined`, $0) instead of the cache. The next repeat is a
    hit. Each attempt is a real request; nothing sleeps.
    """
    for _ in range(attempts):
        raw = call()
        if raw.headers.get("x-flashgate-cache") != "joined":
            return raw
    return raw
