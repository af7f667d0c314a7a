"""Graceful shutdown of a Flashgate of its own, apart from the shared pair."""

from __future__ import annotations

import os

import httpx

from conftest import start_flashgate


def test_sigterm_exits_zero_and_removes_socket(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("life")
    # A short socket path: pytest's tmp paths can exceed sun_path's 108 bytes.
    sock = f"/tmp/fg-life-{os.getpid()}.sock"
    gate = start_flashgate("lifecycle", workdir, socket_path=sock)
    try:
        with httpx.Client(transport=httpx.HTTPTransport(uds=sock), timeout=10) as client:
            assert client.get("http://localhost/healthz").status_code == 200
        assert oct(os.stat(sock).st_mode & 0o777) == oct(0o660)
    finally:
        code = gate.stop()
    assert code == 0, f"exit code {code} after SIGTERM:\n{gate.log_tail()}"
    assert not os.path.exists(sock), "the socket file is still there after shutdown"
