"""Small CLI chores against the real binary."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import httpx

from conftest import MODEL, flashgate_bin, start_flashgate_with_config


def keys_new(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([flashgate_bin(), "keys", "new", *args], capture_output=True, text=True, timeout=30)


def test_keys_new_yaml_pastes_as_is(tmp_path: Path):
    """The YAML `keys new` prints is pasted under `keys:` verbatim and the key works. A team or
    name YAML reads as another type (`null`, `true`, `1e3`) was printed unquoted, so the pasted
    key had no team or a name that failed the config."""
    printed = keys_new("--team", "null", "--name", "true")
    assert printed.returncode == 0, printed.stderr
    key = re.search(r"^key:\s+(\S+)$", printed.stdout, re.M).group(1)
    block = printed.stdout[printed.stdout.index("  - name:"):]
    config = f'teams:\n  - id: "null"\nkeys:\n{block}'
    config_path = tmp_path / "keys.yaml"
    config_path.write_text(config)
    checked = subprocess.run([flashgate_bin(), "check", "--config", str(config_path)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    gate = start_flashgate_with_config("keys-new", tmp_path, config)
    try:
        with httpx.Client(timeout=30) as client:
            answer = client.post(f"{gate.base_url}/v1/chat/completions",
                                 headers={"authorization": f"Bearer {key}"},
                                 json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}]})
            assert answer.status_code == 200, answer.text
    finally:
        gate.stop()


def test_keys_new_refuses_what_the_config_would():
    """A team or key name the config refuses is refused here, before a key is shown: it had
    printed YAML (`team: #ops: east`) that broke the config it was pasted into."""
    for args in (["--team", "#ops: east"], ["--team", "ops", "--name", 'ops, "main"'], ["--team", "x" * 65]):
        result = keys_new(*args)
        assert result.returncode != 0, args
        assert "letters, digits" in result.stderr, result.stderr
        assert "fg-" not in result.stdout, "no key is printed"
