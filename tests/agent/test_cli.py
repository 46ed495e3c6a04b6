"""The ``dbsbm-agent`` command as a real process: serves, reloads on SIGHUP, stops on SIGTERM."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.services import RedisService, free_port, wait_for


def get(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


@pytest.fixture
def agent_process(
    tmp_path: Path, redis_server: RedisService
) -> Iterator[tuple[subprocess.Popen[str], str, Path]]:
    """A dbsbm-agent probing the session Redis, its base URL and its config file."""
    config = tmp_path / "agent.yaml"
    config.write_text("probes:\n  redis: {interval: 0.2, timeout: 0.2, required: true}\n")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MYSQL_", "REDIS_", "OTEL_"))}
    env |= {
        "REDIS_URL": redis_server.url,
        "OTEL_TRACES_EXPORTER": "none",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
    }
    command = shutil.which("dbsbm-agent") or sys.exit("dbsbm-agent is not installed")
    process = subprocess.Popen(
        [command, "--config", str(config), "--listen", f"127.0.0.1:{port}"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: get(f"{base}/readyz")[0] == 200, 30, "dbsbm-agent ready")
        yield process, base, config
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


@pytest.mark.integration
def test_serves_reloads_and_stops(
    agent_process: tuple[subprocess.Popen[str], str, Path],
) -> None:
    """Ready against a live Redis; a bad reload keeps it running; SIGTERM exits 0 promptly."""
    process, base, config = agent_process
    assert get(f"{base}/livez") == (200, {"status": "pass", "problems": []})
    status, health = get(f"{base}/health")
    assert (status, health["status"]) == (200, "pass")
    assert list(health["checks"]) == ["redis:responseTime"]

    config.write_text("probes:\n  redis: {timeout: -1}\n")
    process.send_signal(signal.SIGHUP)
    wait_for(lambda: get(f"{base}/report")[0] == 200, 5, "agent still serving")
    assert process.poll() is None

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0
    _, stderr = process.communicate(timeout=5)
    reload_errors = [
        json.loads(line) for line in stderr.splitlines() if "configuration reload failed" in line
    ]
    assert reload_errors, stderr
    assert "probes.redis.timeout: must be a positive number, got -1" in reload_errors[0]["message"]
    assert "Traceback" not in stderr
