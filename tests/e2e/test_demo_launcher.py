"""The demo launcher (``scripts/demo.sh``): the README's main command, run as a user would.

It starts the whole stack on loopback, the demo bot's telemetry reaches Prometheus and
the file sink, and Ctrl-C (SIGINT) stops every process it started.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from dbsbm_instrumentation import semconv
from tests import services

pytestmark = pytest.mark.e2e


def _query(prometheus: str, promql: str) -> list[object]:
    url = f"{prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(url, timeout=5) as response:
        return list(json.load(response)["data"]["result"])


def _wait(check: Callable[[], bool], timeout: float, what: str) -> None:
    """Like services.wait_for, but an AssertionError in ``check`` fails at once."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not seen within {timeout:.0f} s")
        time.sleep(0.2)


def test_demo_runs_the_stack_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    """scripts/demo.sh brings metrics to Prometheus and files to the sink, then SIGINT stops all."""
    env = {**os.environ, "DBSBM_OTELCOL_BIN": str(services.collector_binary())}
    for name in ("redis-server", "mariadbd", "prometheus"):
        services.require_binary(name, {"mariadbd": "mariadb-server"}.get(name, name))
    log_path = tmp_path / "demo.out"
    with open(log_path, "wb") as log:
        demo = subprocess.Popen(
            [
                "bash",
                "scripts/demo.sh",
                "--no-install",
                "--workdir",
                str(tmp_path / "demo"),
                "--rate",
                "6",
                "--duration",
                "300",
            ],
            cwd=services.REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:

        def summary_printed() -> bool:
            assert demo.poll() is None, f"the demo exited:\n{log_path.read_text()[-4000:]}"
            return "dbsbm demo is running" in log_path.read_text()

        _wait(summary_printed, 150, "the demo's summary")
        output = log_path.read_text()
        match = re.search(r"Prometheus\s+(http://127\.0\.0\.1:\d+)", output)
        assert match, output
        prometheus = match[1]
        query = f'{semconv.SPAN_CALLS.prometheus}{{service_name="dbsbm-demo-bot"}}'
        services.wait_for(lambda: bool(_query(prometheus, query)), 60, "span metrics")
        telemetry = tmp_path / "demo" / "telemetry"
        services.wait_for(lambda: (telemetry / "traces.json").stat().st_size > 0, 30, "traces")
        services.wait_for(lambda: (telemetry / "logs.json").stat().st_size > 0, 30, "logs")
        os.killpg(demo.pid, signal.SIGINT)
        assert demo.wait(timeout=90) == 0, log_path.read_text()[-4000:]
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait()
    output = log_path.read_text()
    assert "demo: stopping demo-bot" in output
    port = int(prometheus.rsplit(":", 1)[1])
    deadline = time.monotonic() + 10
    while services.port_open(port) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not services.port_open(port), "Prometheus still running after the demo stopped"
