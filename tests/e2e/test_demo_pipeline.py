"""End to end: the demo bot under opentelemetry-instrument, through our collector, to Prometheus.

Real processes only: the demo bot (``python -m examples.demo_bot``, traffic generator on)
runs under ``opentelemetry-instrument`` with no telemetry code of its own; the built
collector runs ``deploy/otel-collector/otelcol-config.yml`` unchanged, its endpoints set
from the environment; Prometheus takes its remote writes; a second collector
(``tests/deploy/otelcol-sink.yml``) stands in for Tempo and Loki and writes what it gets
to JSON files. Everything is asserted from the outside: Prometheus' HTTP API and the files.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymysql
import pytest
from dbsbm_instrumentation import semconv

from examples.demo_bot.settings import TEST_SECRET
from tests import services

pytestmark = pytest.mark.e2e

SERVICE = "dbsbm-demo-bot-e2e"
COLLECTOR_CONFIG = services.REPO / "deploy/otel-collector/otelcol-config.yml"
SINK_CONFIG = services.REPO / "tests/deploy/otelcol-sink.yml"
DEMO_SECONDS = 25
E2E_DATABASE = "dbsbm_demo_e2e"
FAULTS = {"api_429_rate": 0.2, "db_error_rate": 0.05}


class Pipeline:
    """What the test inspects: Prometheus and the sink's files."""

    def __init__(self, prometheus: services.PrometheusService, sink_dir: Path,
                 bot_output: str) -> None:
        self.prometheus = prometheus
        self.sink_dir = sink_dir
        self.bot_output = bot_output

    def series(self, name: str, timeout: float = 45.0,
               selector: bool = True) -> list[dict[str, Any]]:
        """Series of ``name`` from the demo bot, waiting for the pipeline to deliver them.

        With ``selector=False``, ``name`` is a whole series selector of its own.
        """
        query = f'{name}{{job="{SERVICE}"}}' if selector else name
        deadline = time.monotonic() + timeout
        while True:
            result = self.prometheus.query(query)
            if result or time.monotonic() > deadline:
                return result
            time.sleep(1)

    def records(self, kind: str, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Every line of the sink's ``<kind>.json`` (OTLP JSON, one export per line)."""
        path = self.sink_dir / f"{kind}.json"
        deadline = time.monotonic() + timeout
        while not (path.exists() and path.stat().st_size) and time.monotonic() < deadline:
            time.sleep(0.5)
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def text(self, kind: str) -> str:
        path = self.sink_dir / f"{kind}.json"
        return path.read_text() if path.exists() else ""


def spans(exports: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(resource, span) pairs from the sink's traces.json."""
    for export in exports:
        for resource_spans in export.get("resourceSpans", []):
            for scope_spans in resource_spans.get("scopeSpans", []):
                for span in scope_spans.get("spans", []):
                    yield resource_spans.get("resource", {}), span


def log_records(exports: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(resource, log record) pairs from the sink's logs.json."""
    for export in exports:
        for resource_logs in export.get("resourceLogs", []):
            for scope_logs in resource_logs.get("scopeLogs", []):
                for record in scope_logs.get("logRecords", []):
                    yield resource_logs.get("resource", {}), record


def service_name(resource: dict[str, Any]) -> str | None:
    for attribute in resource.get("attributes", []):
        if attribute["key"] == "service.name":
            return str(attribute["value"].get("stringValue"))
    return None


def body_text(record: dict[str, Any]) -> str:
    body = record.get("body", {})
    return str(body.get("stringValue", json.dumps(body)))


@pytest.fixture(scope="module")
def pipeline(mysql_server: services.MySQLService,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    """Run the whole pipeline once for the module; the demo bot runs for DEMO_SECONDS.

    Redis is private (the bot fills it with keys); MySQL is the session server, with a
    database of the bot's own.
    """
    workdir = tmp_path_factory.mktemp("e2e")
    sink_dir = workdir / "sink"
    sink_dir.mkdir()
    started: list[Any] = []
    try:
        redis = services.start_redis(_subdir(workdir, "redis"))
        started.append(redis)
        prometheus = services.start_prometheus(_subdir(workdir, "prometheus"))
        started.append(prometheus)
        sink = services.start_collector(_subdir(workdir, "sink-collector"), [SINK_CONFIG],
                                        env={"SINK_DIR": str(sink_dir)}, name="otelcol-sink")
        started.append(sink)
        collector = services.start_collector(_subdir(workdir, "collector"), [COLLECTOR_CONFIG], env={
            "PROMETHEUS_REMOTE_WRITE_URL": prometheus.remote_write_url,
            "TEMPO_OTLP_ENDPOINT": sink.otlp_grpc_endpoint,
            "LOKI_OTLP_ENDPOINT": sink.otlp_http_endpoint,
            # The collector's own metrics would go to localhost:4318 by default.
            "OTELCOL_SELF_TELEMETRY_ENDPOINT": sink.otlp_http_endpoint,
            "OTELCOL_BATCH_TIMEOUT": "1s",
            "OTELCOL_SPAN_METRICS_FLUSH_INTERVAL": "2s",
            "OTELCOL_HOSTMETRICS_INTERVAL": "5s",
        })
        started.append(collector)
        output = _run_demo_bot(collector, redis, mysql_server, workdir)
        yield Pipeline(prometheus, sink_dir, output)
    finally:
        for service in reversed(started):
            service.close()


def _subdir(parent: Path, name: str) -> Path:
    path = parent / name
    path.mkdir()
    return path


def _run_demo_bot(collector: services.CollectorService, redis: services.RedisService,
                  mysql: services.MySQLService, workdir: Path) -> str:
    """The bot as a user runs it: ``opentelemetry-instrument python -m examples.demo_bot``."""
    connection = pymysql.connect(host=mysql.host, port=mysql.port, user=mysql.user,
                                 password=mysql.password, autocommit=True)
    with connection, connection.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE IF NOT EXISTS {E2E_DATABASE}")
    instrument = services.require_binary("opentelemetry-instrument",
                                         "the repo's Python dependencies (pip install -e .)")
    env = {
        **os.environ, **mysql.env, "MYSQL_DB": E2E_DATABASE,
        "REDIS_HOST": redis.host, "REDIS_PORT": str(redis.port),
        "OTEL_SERVICE_NAME": SERVICE,
        "OTEL_PYTHON_DISTRO": "dbsbm",
        "OTEL_SEMCONV_STABILITY_OPT_IN": "http",
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.otlp_http_endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_METRIC_EXPORT_INTERVAL": "2000",
        "OTEL_BSP_SCHEDULE_DELAY": "500",
        "OTEL_BLRP_SCHEDULE_DELAY": "500",
        "DBSBM_ENV": "production",
        "DEMO_CONTROL_PORT": str(services.free_port()),
        "PYTHONUNBUFFERED": "1",
        # A few injected faults, so failures are seen as such after the collector too.
        "DEMO_FAULTS": json.dumps(FAULTS),
    }
    log_path = workdir / "demo-bot.log"
    with open(log_path, "wb") as log:
        result = subprocess.run(
            [instrument, sys.executable, "-m", "examples.demo_bot",
             "--duration", str(DEMO_SECONDS), "--rate", "8"],
            cwd=services.REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
            timeout=DEMO_SECONDS + 90, check=False)
    output = log_path.read_text(errors="replace")
    assert result.returncode == 0, f"demo bot exited with {result.returncode}:\n{output[-4000:]}"
    assert '"event": "demo_bot_ready"' in output, output[-4000:]
    return output


@pytest.mark.parametrize("name", [
    semconv.SPAN_CALLS.prometheus,
    semconv.DB_OPERATION_DURATION.prometheus + "_bucket",
    semconv.HTTP_CLIENT_DURATION.prometheus + "_bucket",
    semconv.DISCORD_COMMAND_DURATION.prometheus + "_bucket",
    semconv.CACHE_OPERATIONS.prometheus,
])
def test_metrics_reach_prometheus_under_their_semconv_names(pipeline: Pipeline,
                                                            name: str) -> None:
    """Span metrics and the bot's own metrics are queryable by the names semconv spells."""
    assert pipeline.series(name), f"no {name} series for job={SERVICE} in Prometheus"


def test_command_metrics_carry_command_names(pipeline: Pipeline) -> None:
    """Discord command durations are labelled with the slash and prefix commands that ran."""
    label = semconv.label(semconv.DISCORD_COMMAND_NAME)
    names = {s["metric"].get(label) for s in
             pipeline.series(semconv.DISCORD_COMMAND_DURATION.prometheus + "_count")}
    assert {"bet", "odds", "schedule", "stats"} <= names, names


def test_rate_limits_and_failed_queries_show_up_in_prometheus(pipeline: Pipeline) -> None:
    """Injected 429s count as rate-limit events per server; failed queries carry error.type."""
    address = semconv.label("server.address")
    limited = pipeline.series(semconv.API_RATE_LIMITED.prometheus)
    assert limited and all(s["metric"].get(address) for s in limited), limited
    status = semconv.label("http.response.status_code")
    answered_429 = pipeline.series(
        f'{semconv.HTTP_CLIENT_DURATION.prometheus}_count{{job="{SERVICE}", {status}="429"}}',
        selector=False)
    assert answered_429, "no HTTP 429 answers in http_client_request_duration_seconds"
    failed = pipeline.series(
        f'{semconv.DB_OPERATION_DURATION.prometheus}_count'
        f'{{job="{SERVICE}", {semconv.label("error.type")}!=""}}',
        selector=False)
    assert failed, "no failed query (error_type label) in db_client_operation_duration_seconds"


def test_traces_and_logs_reach_the_sink(pipeline: Pipeline) -> None:
    """The collector forwards the bot's spans and log records to the Tempo/Loki stand-in."""
    traced = {service_name(r) for r, _ in spans(pipeline.records("traces"))}
    logged = {service_name(r) for r, _ in log_records(pipeline.records("logs"))}
    assert SERVICE in traced, traced
    assert SERVICE in logged, logged


def test_log_inside_a_command_carries_its_trace_id(pipeline: Pipeline) -> None:
    """A log line written inside /bet has that command's trace id, found among the spans."""
    bet_logs = [record for resource, record in log_records(pipeline.records("logs"))
                if service_name(resource) == SERVICE and "bet placed" in body_text(record)]
    assert bet_logs, "no 'bet placed' log record reached the sink"
    trace_ids = {record.get("traceId") for record in bet_logs} - {None, ""}
    assert trace_ids, f"'bet placed' records carry no trace id: {bet_logs[0]}"
    spans_by_trace: dict[str, list[str]] = {}
    for _, span in spans(pipeline.records("traces")):
        spans_by_trace.setdefault(span["traceId"], []).append(span["name"])
    matched = [spans_by_trace[t] for t in trace_ids if t in spans_by_trace]
    assert matched, "no span shares a trace id with a 'bet placed' log record"
    assert any(any("bet" in name for name in names) for names in matched), matched


SPAN_KIND_SERVER, SPAN_KIND_CLIENT = 2, 3  # OTLP JSON writes enums as integers


def attribute_values(span: dict[str, Any]) -> dict[str, Any]:
    """``{key: value}`` of an OTLP JSON span's attributes (ints arrive as strings)."""
    return {a["key"]: next(iter(a.get("value", {}).values()), None)
            for a in span.get("attributes", [])}


def test_a_command_is_one_trace_with_its_database_cache_and_api_children(
        pipeline: Pipeline) -> None:
    """/bet is one trace: a root SERVER span whose direct CLIENT children are its MySQL,
    Redis and sports-API calls, each with the attributes dashboards group by."""
    by_trace: dict[str, list[dict[str, Any]]] = {}
    for resource, span in spans(pipeline.records("traces")):
        if service_name(resource) == SERVICE:
            by_trace.setdefault(span["traceId"], []).append(span)
    bets = [trace for trace in by_trace.values() if any(s["name"] == "slash bet" for s in trace)]
    assert bets, "no 'slash bet' span reached the sink"
    seen: dict[str, dict[str, Any]] = {}
    for trace in bets:
        (root,) = [s for s in trace if s["name"] == "slash bet"]
        assert root["kind"] == SPAN_KIND_SERVER and not root.get("parentSpanId"), root
        for child in trace:
            attributes = attribute_values(child)
            if child.get("parentSpanId") != root["spanId"] or child["kind"] != SPAN_KIND_CLIENT:
                continue
            system = attributes.get("db.system.name") or (
                "http" if "http.request.method" in attributes else None)
            if system:
                seen.setdefault(system, attributes)
    assert {"mysql", "redis", "http"} <= seen.keys(), sorted(seen)
    assert seen["mysql"]["db.namespace"] == E2E_DATABASE
    assert seen["mysql"]["server.address"] == "127.0.0.1"
    assert seen["mysql"]["db.query.text"], seen["mysql"]
    assert seen["redis"]["server.address"] == "127.0.0.1"
    assert seen["http"]["server.address"] == "127.0.0.1"
    assert seen["http"]["http.response.status_code"] in ("200", "429"), seen["http"]


def test_planted_secret_is_redacted_everywhere(pipeline: Pipeline) -> None:
    """The demo's planted test secret reaches no sink file and no Prometheus label value."""
    logs = pipeline.text("logs")
    traces = pipeline.text("traces")
    # The carriers arrived (redacted), so absence is not just a lost record.
    assert "planted test secret" in logs, "the log line carrying the test secret never arrived"
    assert "connection check" in traces, "the SQL carrying the test secret never arrived"
    for kind in ("logs", "traces", "metrics"):
        assert TEST_SECRET not in pipeline.text(kind), f"test secret leaked into {kind}.json"
    assert TEST_SECRET not in pipeline.bot_output, "the bot's console log shows the test secret"
    url = pipeline.prometheus.url
    labels = _get_json(f"{url}/api/v1/labels")["data"]
    for label in labels:
        values = _get_json(f"{url}/api/v1/label/{urllib.parse.quote(label)}/values")["data"]
        leaked = [v for v in values if TEST_SECRET in v]
        assert not leaked, f"test secret leaked into Prometheus label {label}: {leaked}"


def _get_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)  # type: ignore[no-any-return]


