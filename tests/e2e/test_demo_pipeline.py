"""End to end: the demo bot under opentelemetry-instrument, through our collector, to Prometheus.

Real processes only: the demo bot (``python -m examples.demo_bot``, traffic generator on)
runs under ``opentelemetry-instrument`` with no telemetry code of its own; the built
collector runs ``deploy/otel-collector/otelcol-config.yml`` unchanged, its endpoints set
from the environment; Prometheus (with exemplar storage, as docker-compose runs it) takes
its remote writes, exemplars included; a second collector
(``devstack/otelcol-sink.yml``) stands in for Tempo and Loki and writes what it gets
to JSON files. The bot records its sports-API key header as a span attribute
(``OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST``), one of the three carriers
of the planted test secret. Everything is asserted from the outside: Prometheus' HTTP API
and the files.
"""

from __future__ import annotations

import json
import os
import re
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
import yaml

from dbsbm_instrumentation import semconv
from examples.demo_bot.settings import TEST_SECRET
from examples.demo_bot.sports_api import API_KEY_HEADER
from tests import services

pytestmark = pytest.mark.e2e

SERVICE = "dbsbm-demo-bot-e2e"
COLLECTOR_CONFIG = services.REPO / "deploy/otel-collector/otelcol-config.yml"
GRAFANA_DATASOURCES = services.REPO / "deploy/grafana/provisioning/datasources/datasources.yaml"
DEMO_SECONDS = 25
E2E_DATABASE = "dbsbm_demo_e2e"
# Reads are mostly served from the cache, so the error rate per read is high enough that
# a 25 s run always has failed queries. The warm-up caches every league's odds for longer
# than the run: cold reads make /odds call the sports API in every run, not only after a
# warm-up call met a 429.
FAULTS = {"api_429_rate": 0.2, "db_error_rate": 0.25, "cold_read_rate": 0.2}


class Pipeline:
    """What the test inspects: Prometheus and the sink's files."""

    def __init__(
        self, prometheus: services.PrometheusService, sink_dir: Path, bot_output: str
    ) -> None:
        self.prometheus = prometheus
        self.sink_dir = sink_dir
        self.bot_output = bot_output

    def series(
        self, name: str, timeout: float = 45.0, selector: bool = True
    ) -> list[dict[str, Any]]:
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

    def exemplars(self, query: str, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Every exemplar of ``query`` in the last hour (``/api/v1/query_exemplars``)."""
        deadline = time.monotonic() + timeout
        while True:
            now = time.time()
            url = f"{self.prometheus.url}/api/v1/query_exemplars?" + urllib.parse.urlencode(
                {"query": query, "start": now - 3600, "end": now}
            )
            found = [e for series in _get_json(url)["data"] for e in series["exemplars"]]
            if found or time.monotonic() > deadline:
                return found
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
def pipeline(
    mysql_server: services.MySQLService, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pipeline]:
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
        sink = services.start_sink(_subdir(workdir, "sink-collector"), sink_dir)
        started.append(sink)
        collector = services.start_collector(
            _subdir(workdir, "collector"),
            [COLLECTOR_CONFIG],
            env={
                "PROMETHEUS_REMOTE_WRITE_URL": prometheus.remote_write_url,
                "TEMPO_OTLP_ENDPOINT": sink.otlp_grpc_endpoint,
                "LOKI_OTLP_ENDPOINT": sink.otlp_http_endpoint,
                "OTELCOL_BATCH_TIMEOUT": "1s",
                "OTELCOL_SPAN_METRICS_FLUSH_INTERVAL": "2s",
                "OTELCOL_HOSTMETRICS_INTERVAL": "5s",
            },
        )
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


def _run_demo_bot(
    collector: services.CollectorService,
    redis: services.RedisService,
    mysql: services.MySQLService,
    workdir: Path,
) -> str:
    """The bot as a user runs it: ``opentelemetry-instrument python -m examples.demo_bot``."""
    connection = pymysql.connect(
        host=mysql.host, port=mysql.port, user=mysql.user, password=mysql.password, autocommit=True
    )
    with connection, connection.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE IF NOT EXISTS {E2E_DATABASE}")
    instrument = services.require_binary(
        "opentelemetry-instrument", "the repo's Python dependencies (pip install -e .)"
    )
    env = {
        **os.environ,
        **mysql.env,
        "MYSQL_DB": E2E_DATABASE,
        "REDIS_HOST": redis.host,
        "REDIS_PORT": str(redis.port),
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
        # contrib's aiohttp-client records this request header as a span attribute
        # (http.request.header.x_apisports_key): the API key, i.e. the planted secret.
        "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST": API_KEY_HEADER,
    }
    log_path = workdir / "demo-bot.log"
    with open(log_path, "wb") as log:
        result = subprocess.run(
            [
                instrument,
                sys.executable,
                "-m",
                "examples.demo_bot",
                "--duration",
                str(DEMO_SECONDS),
                "--rate",
                "8",
            ],
            cwd=services.REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=DEMO_SECONDS + 90,
            check=False,
        )
    output = log_path.read_text(errors="replace")
    assert result.returncode == 0, f"demo bot exited with {result.returncode}:\n{output[-4000:]}"
    assert '"event": "demo_bot_ready"' in output, output[-4000:]
    return output


@pytest.mark.parametrize(
    "name",
    [
        semconv.SPAN_CALLS.prometheus,
        semconv.DB_OPERATION_DURATION.prometheus + "_bucket",
        semconv.HTTP_CLIENT_DURATION.prometheus + "_bucket",
        semconv.DISCORD_COMMAND_DURATION.prometheus + "_bucket",
        semconv.CACHE_OPERATIONS.prometheus,
        # The bot's own process, as the Health & host dashboard reads it (system-metrics).
        semconv.PROCESS_CPU_TIME.prometheus,
        semconv.PROCESS_MEMORY_USAGE.prometheus,
    ],
)
def test_metrics_reach_prometheus_under_their_semconv_names(pipeline: Pipeline, name: str) -> None:
    """Span metrics and the bot's own metrics are queryable by the names semconv spells."""
    assert pipeline.series(name), f"no {name} series for job={SERVICE} in Prometheus"


def test_command_metrics_carry_command_names(pipeline: Pipeline) -> None:
    """Discord command durations are labelled with the slash and prefix commands that ran."""
    label = semconv.label(semconv.DISCORD_COMMAND_NAME)
    names = {
        s["metric"].get(label)
        for s in pipeline.series(semconv.DISCORD_COMMAND_DURATION.prometheus + "_count")
    }
    assert {"bet", "odds", "schedule", "stats"} <= names, names


def test_rate_limits_and_failed_queries_show_up_in_prometheus(pipeline: Pipeline) -> None:
    """Injected 429s count as rate-limit events per server; failed queries carry error.type."""
    address = semconv.label("server.address")
    limited = pipeline.series(semconv.API_RATE_LIMITED.prometheus)
    assert limited and all(s["metric"].get(address) for s in limited), limited
    status = semconv.label("http.response.status_code")
    answered_429 = pipeline.series(
        f'{semconv.HTTP_CLIENT_DURATION.prometheus}_count{{job="{SERVICE}", {status}="429"}}',
        selector=False,
    )
    assert answered_429, "no HTTP 429 answers in http_client_request_duration_seconds"
    failed = pipeline.series(
        f"{semconv.DB_OPERATION_DURATION.prometheus}_count"
        f'{{job="{SERVICE}", {semconv.label("error.type")}!=""}}',
        selector=False,
    )
    assert failed, "no failed query (error_type label) in db_client_operation_duration_seconds"


def test_traces_and_logs_reach_the_sink(pipeline: Pipeline) -> None:
    """The collector forwards the bot's spans and log records to the Tempo/Loki stand-in."""
    traced = {service_name(r) for r, _ in spans(pipeline.records("traces"))}
    logged = {service_name(r) for r, _ in log_records(pipeline.records("logs"))}
    assert SERVICE in traced, traced
    assert SERVICE in logged, logged


def test_log_inside_a_command_carries_its_trace_id(pipeline: Pipeline) -> None:
    """A log line written inside /bet has that command's trace id, found among the spans."""
    bet_logs = [
        record
        for resource, record in log_records(pipeline.records("logs"))
        if service_name(resource) == SERVICE and "bet placed" in body_text(record)
    ]
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
    return {
        a["key"]: next(iter(a.get("value", {}).values()), None) for a in span.get("attributes", [])
    }


def test_a_command_is_one_trace_with_its_database_cache_and_api_children(
    pipeline: Pipeline,
) -> None:
    """Each command is one trace: a SERVER span (the root, for slash commands) whose direct
    CLIENT children are its MySQL, Redis and sports-API calls, each with the attributes
    dashboards group by.

    Which calls a command makes depends on the cache (odds are cached for a minute), so
    the three kinds are looked for across the run's command traces; /bet always reads
    MySQL and writes Redis.
    """
    by_trace: dict[str, list[dict[str, Any]]] = {}
    for resource, span in spans(pipeline.records("traces")):
        if service_name(resource) == SERVICE:
            by_trace.setdefault(span["traceId"], []).append(span)
    seen: dict[str, dict[str, Any]] = {}
    bet_children: list[set[str]] = []
    for trace in by_trace.values():
        commands = [s for s in trace if s["name"].startswith(("slash ", "prefix "))]
        if not commands:
            continue
        (root,) = commands  # a prefix command's parent is its on_message event span
        assert root["kind"] == SPAN_KIND_SERVER, root
        assert not root.get("parentSpanId") or root["name"].startswith("prefix "), root
        systems = set()
        for child in trace:
            attributes = attribute_values(child)
            if child.get("parentSpanId") != root["spanId"] or child["kind"] != SPAN_KIND_CLIENT:
                continue
            system = attributes.get("db.system.name") or (
                "http" if "http.request.method" in attributes else None
            )
            if system:
                systems.add(system)
                seen.setdefault(system, attributes)
        if root["name"] == "slash bet":
            bet_children.append(systems)
    assert bet_children, "no 'slash bet' trace reached the sink"
    assert any({"mysql", "redis"} <= systems for systems in bet_children), bet_children
    assert {"mysql", "redis", "http"} <= seen.keys(), sorted(seen)
    assert seen["mysql"]["db.namespace"] == E2E_DATABASE
    assert seen["mysql"]["server.address"] == "127.0.0.1"
    assert seen["mysql"]["db.query.text"], seen["mysql"]
    assert seen["redis"]["server.address"] == "127.0.0.1"
    assert seen["http"]["server.address"] == "127.0.0.1"
    assert seen["http"]["http.response.status_code"] in ("200", "429"), seen["http"]


# contrib's aiohttp-client names a captured request header http.request.header.<name>, the
# name lower-cased with "-" turned into "_".
API_KEY_ATTRIBUTE = "http.request.header." + API_KEY_HEADER.replace("-", "_")


def _carriers_arrived(pipeline: Pipeline) -> list[dict[str, Any]]:
    """Assert the three carriers of the planted secret arrived; the header attributes."""
    # The carriers arrived (redacted), so absence is not just a lost record.
    assert "planted test secret" in pipeline.text("logs"), (
        "the log line carrying the test secret never arrived"
    )
    assert "connection check" in pipeline.text("traces"), (
        "the SQL carrying the test secret never arrived"
    )
    headers = [
        attribute_values(span)[API_KEY_ATTRIBUTE]
        for resource, span in spans(pipeline.records("traces"))
        if service_name(resource) == SERVICE and API_KEY_ATTRIBUTE in attribute_values(span)
    ]
    assert headers, f"no API client span carries {API_KEY_ATTRIBUTE} (the captured API key)"
    return headers


def _prometheus_labels_leaking(pipeline: Pipeline) -> dict[str, list[str]]:
    url = pipeline.prometheus.url
    leaked = {}
    for label in _get_json(f"{url}/api/v1/labels")["data"]:
        values = _get_json(f"{url}/api/v1/label/{urllib.parse.quote(label)}/values")["data"]
        if found := [v for v in values if TEST_SECRET in v]:
            leaked[label] = found
    return leaked


def test_planted_secret_is_redacted_from_logs_sql_and_metrics(pipeline: Pipeline) -> None:
    """The secret planted in a log message and a SQL comment reaches no log record, no span
    attribute (but the captured header's, see the next test), no metric and no Prometheus
    label value, and not the bot's console."""
    _carriers_arrived(pipeline)
    for kind in ("logs", "metrics"):
        assert TEST_SECRET not in pipeline.text(kind), f"test secret leaked into {kind}.json"
    for _, span in spans(pipeline.records("traces")):
        others = {k: v for k, v in attribute_values(span).items() if k != API_KEY_ATTRIBUTE}
        assert TEST_SECRET not in json.dumps([others, span.get("events"), span.get("status")]), (
            f"test secret leaked into span {span['name']!r}"
        )
    assert TEST_SECRET not in pipeline.bot_output, "the bot's console log shows the test secret"
    assert not _prometheus_labels_leaking(pipeline)


def test_planted_secret_is_redacted_everywhere(pipeline: Pipeline) -> None:
    """The planted secret (log message, SQL comment, and the API key header captured as a
    span attribute) reaches no sink file and no Prometheus label value; the header
    attribute still arrives, masked."""
    for values in _carriers_arrived(pipeline):
        assert TEST_SECRET not in json.dumps(values), f"{API_KEY_ATTRIBUTE} is not masked"
    for kind in ("logs", "traces", "metrics"):
        assert TEST_SECRET not in pipeline.text(kind), f"test secret leaked into {kind}.json"
    assert TEST_SECRET not in pipeline.bot_output, "the bot's console log shows the test secret"
    assert not _prometheus_labels_leaking(pipeline)


def test_duration_histograms_carry_exemplars_that_link_to_traces(pipeline: Pipeline) -> None:
    """Prometheus, run with exemplar storage as docker-compose runs it, stores exemplars on
    the command and query duration buckets. They carry the label Grafana's exemplar link
    reads (exemplarTraceIdDestinations) and the ids of traces that reached the Tempo
    stand-in, so a click on one opens a real trace."""
    datasources = yaml.safe_load(GRAFANA_DATASOURCES.read_text())["datasources"]
    (prometheus,) = [d for d in datasources if d["type"] == "prometheus"]
    (link,) = prometheus["jsonData"]["exemplarTraceIdDestinations"]
    traced = {span["traceId"] for _, span in spans(pipeline.records("traces"))}
    for instrument in (semconv.DISCORD_COMMAND_DURATION, semconv.DB_OPERATION_DURATION):
        query = f'{instrument.prometheus}_bucket{{job="{SERVICE}"}}'
        exemplars = pipeline.exemplars(query)
        assert exemplars, f"Prometheus stored no exemplar for {query}"
        ids = {e["labels"].get(link["name"]) for e in exemplars}
        assert None not in ids, f"an exemplar of {query} lacks the {link['name']} label"
        assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids), ids
        assert ids & traced, f"no exemplar of {query} names a trace that reached the sink"


def _get_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=10) as response:
        body: dict[str, Any] = json.load(response)
    return body
