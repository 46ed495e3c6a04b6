"""End to end: ``dbsbm-agent`` probes real Redis and MariaDB; Prometheus sees ``probe_success``.

Real processes only: the agent CLI exports over OTLP to the built collector running
``deploy/otel-collector/otelcol-config.yml`` unchanged, which remote-writes to Prometheus.
A second collector (``devstack/otelcol-sink.yml``) stands in for Tempo and Loki.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dbsbm_instrumentation import semconv
from tests import services

pytestmark = pytest.mark.e2e

SERVICE = "dbsbm-agent-e2e"
COLLECTOR_CONFIG = services.REPO / "deploy/otel-collector/otelcol-config.yml"
SINK_CONFIG = services.SINK_CONFIG
AGENT_CONFIG = """\
listen: "127.0.0.1:{port}"
probes:
  mysql:
    interval: 1
    timeout: 1
  redis:
    interval: 1
    timeout: 1
  host:
    interval: 1
"""


class AgentPipeline:
    def __init__(
        self, prometheus: services.PrometheusService, redis: services.RedisService
    ) -> None:
        self.prometheus = prometheus
        self.redis = redis

    def probe_success(self, probe: str) -> float | None:
        result = self.prometheus.query(
            f'{semconv.PROBE_SUCCESS.prometheus}{{job="{SERVICE}", '
            f'{semconv.label(semconv.PROBE_NAME)}="{probe}"}}'
        )
        return float(result[0]["value"][1]) if result else None

    def wait_for(self, probe: str, value: float, timeout: float = 45.0) -> float | None:
        deadline = time.monotonic() + timeout
        seen = self.probe_success(probe)
        while seen != value and time.monotonic() < deadline:
            time.sleep(1)
            seen = self.probe_success(probe)
        return seen


@pytest.fixture(scope="module")
def agent_pipeline(
    mysql_server: services.MySQLService, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AgentPipeline]:
    """Redis (private: the test kills it), Prometheus, the collectors and the agent CLI."""
    workdir = tmp_path_factory.mktemp("agent-e2e")
    started: list[Any] = []

    def subdir(name: str) -> Path:
        path = workdir / name
        path.mkdir()
        return path

    agent: subprocess.Popen[bytes] | None = None
    try:
        redis = services.start_redis(subdir("redis"))
        started.append(redis)
        prometheus = services.start_prometheus(subdir("prometheus"))
        started.append(prometheus)
        sink = services.start_collector(
            subdir("sink"),
            [SINK_CONFIG],
            env={"SINK_DIR": str(subdir("sink-out"))},
            name="otelcol-sink",
        )
        started.append(sink)
        collector = services.start_collector(
            subdir("collector"),
            [COLLECTOR_CONFIG],
            env={
                "PROMETHEUS_REMOTE_WRITE_URL": prometheus.remote_write_url,
                "TEMPO_OTLP_ENDPOINT": sink.otlp_grpc_endpoint,
                "LOKI_OTLP_ENDPOINT": sink.otlp_http_endpoint,
                "OTELCOL_BATCH_TIMEOUT": "1s",
            },
        )
        started.append(collector)
        port = services.free_port()
        config = workdir / "agent.yaml"
        config.write_text(AGENT_CONFIG.format(port=port))
        binary = services.require_binary("dbsbm-agent", "the repo (pip install -e .)")
        env = {
            **os.environ,
            **mysql_server.env,
            "REDIS_HOST": redis.host,
            "REDIS_PORT": str(redis.port),
            "OTEL_SERVICE_NAME": SERVICE,
            "OTEL_EXPORTER_OTLP_ENDPOINT": collector.otlp_http_endpoint,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_METRIC_EXPORT_INTERVAL": "1000",
        }
        # The agent writes to its own copy of the descriptor; ours can close at once.
        with open(workdir / "agent.log", "wb") as log:
            agent = subprocess.Popen(
                [binary, "--config", str(config)], env=env, stdout=log, stderr=subprocess.STDOUT
            )
        services.wait_for(
            lambda: services.http_ok(f"http://127.0.0.1:{port}/livez"), 30, "dbsbm-agent /livez"
        )
        yield AgentPipeline(prometheus, redis)
    finally:
        if agent is not None:
            agent.terminate()
            agent.wait(timeout=15)
        for service in reversed(started):
            service.close()


def test_probe_success_reaches_prometheus(agent_pipeline: AgentPipeline) -> None:
    """probe_success for MySQL and Redis arrives in Prometheus through the collector as 1."""
    assert agent_pipeline.wait_for("mysql", 1.0) == 1.0
    assert agent_pipeline.wait_for("redis", 1.0) == 1.0


def test_a_dead_redis_shows_as_probe_failure_in_prometheus(agent_pipeline: AgentPipeline) -> None:
    """Killing Redis turns its probe_success to 0 in Prometheus; restarting turns it back."""
    assert agent_pipeline.wait_for("redis", 1.0) == 1.0
    agent_pipeline.redis.kill()
    assert agent_pipeline.wait_for("redis", 0.0) == 0.0
    agent_pipeline.redis.start()
    assert agent_pipeline.wait_for("redis", 1.0) == 1.0
