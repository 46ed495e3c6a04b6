"""The collector distribution, its base config and Prometheus' config, run for real.

The pipeline test starts the sink collector (devstack/otelcol-sink.yml, standing in
for Tempo and Loki), Prometheus with deploy/prometheus/prometheus.yml and the main
collector with deploy/otel-collector/otelcol-config.yml unchanged, then sends one span,
one log record and a few metrics through the Python OTLP exporters.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import string
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.semconv.attributes.db_attributes import DB_QUERY_TEXT, DB_SYSTEM_NAME
from opentelemetry.semconv.attributes.server_attributes import SERVER_ADDRESS
from opentelemetry.semconv.attributes.service_attributes import SERVICE_NAME
from opentelemetry.trace import SpanKind

from dbsbm_instrumentation import semconv
from dbsbm_instrumentation.redaction import SECRET_KEY_PATTERN
from tests import services

pytestmark = pytest.mark.integration

REPO = services.REPO
BASE_CONFIG = REPO / "deploy/otel-collector/otelcol-config.yml"
AUTH_CONFIG = REPO / "deploy/otel-collector/otelcol-auth.yml"
MANIFEST = REPO / "deploy/otel-collector/builder-config.yaml"
PROMETHEUS_CONFIG = REPO / "deploy/prometheus/prometheus.yml"
SINK_CONFIG = services.SINK_CONFIG
BROKEN_CONFIG = Path(__file__).parent / "testdata/otelcol-broken.yml"

# Loopback values for every variable the base config reads (validate binds nothing).
LOOPBACK_ENV = {
    "OTELCOL_OTLP_GRPC_ENDPOINT": "127.0.0.1:4317",
    "OTELCOL_OTLP_HTTP_ENDPOINT": "127.0.0.1:4318",
    "OTELCOL_HEALTH_ENDPOINT": "127.0.0.1:13133",
    "OTELCOL_TELEMETRY_HOST": "127.0.0.1",
    "OTELCOL_TELEMETRY_PORT": "8888",
    "PROMETHEUS_REMOTE_WRITE_URL": "http://127.0.0.1:9090/api/v1/write",
    "TEMPO_OTLP_ENDPOINT": "127.0.0.1:4317",
    "LOKI_OTLP_ENDPOINT": "http://127.0.0.1:3100/otlp",
}
# Short intervals so data reaches the sinks within seconds; the config is unchanged.
FAST_ENV = {
    "OTELCOL_BATCH_TIMEOUT": "200ms",
    "OTELCOL_SPAN_METRICS_FLUSH_INTERVAL": "1s",
    "OTELCOL_HOSTMETRICS_INTERVAL": "2s",
}
SECTIONS = ("receivers", "processors", "exporters", "connectors", "extensions")


@pytest.fixture(scope="module")
def otelcol() -> Path:
    """The built collector binary (cached build; built once if the manifest changed)."""
    return services.collector_binary()


def run_otelcol(binary: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **LOOPBACK_ENV}
    return subprocess.run(
        [str(binary), *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


def component_types(config: dict[str, Any]) -> dict[str, set[str]]:
    """Component types (the part before ``/``) a config defines, by section."""
    return {s: {name.split("/")[0] for name in config.get(s) or {}} for s in SECTIONS}


def test_base_config_validates(otelcol: Path) -> None:
    """`otelcol validate` accepts the base config, with no deprecated component names."""
    result = run_otelcol(otelcol, "validate", f"--config={BASE_CONFIG}")
    assert result.returncode == 0, result.stderr
    assert "deprecat" not in (result.stdout + result.stderr).lower(), result.stderr


def test_sink_config_validates(otelcol: Path, tmp_path: Path) -> None:
    """The test sink config is valid too, so a pipeline failure is never the sink's."""
    result = subprocess.run(
        [str(otelcol), "validate", f"--config={SINK_CONFIG}"],
        capture_output=True,
        text=True,
        env={**os.environ, **LOOPBACK_ENV, "SINK_DIR": str(tmp_path)},
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_broken_config_is_rejected_naming_the_problem(otelcol: Path) -> None:
    """A pipeline naming an undefined exporter fails validation, naming that exporter."""
    result = run_otelcol(otelcol, "validate", f"--config={BROKEN_CONFIG}")
    assert result.returncode != 0
    assert "otlp_grpc/missing" in result.stderr


def test_manifest_lists_exactly_the_components_used(otelcol: Path) -> None:
    """Every manifest module backs a component the configs use, and every used type is built.

    The binary's ``components`` output maps each type to its Go module, so a type that a
    config names but the manifest lacks, or a module nobody uses, fails here.
    """
    built = yaml.safe_load(run_otelcol(otelcol, "components").stdout)
    type_to_module = {
        (section, entry["name"]): entry["module"].split(" ")[0]
        for section in SECTIONS
        for entry in built.get(section) or []
    }
    used: set[tuple[str, str]] = set()
    for path in (BASE_CONFIG, AUTH_CONFIG, SINK_CONFIG):
        for section, types in component_types(yaml.safe_load(path.read_text())).items():
            used |= {(section, t) for t in types}
    missing = used - set(type_to_module)
    assert not missing, f"used but not built: {sorted(missing)}"

    manifest = yaml.safe_load(MANIFEST.read_text())
    listed = {
        entry["gomod"].split(" ")[0]
        for section in (*SECTIONS, "providers")
        for entry in manifest.get(section) or []
    }
    providers = {m for m in listed if "/confmap/provider/" in m}
    assert {p.rsplit("/", 1)[1] for p in providers} == {
        "envprovider",
        "fileprovider",
        "yamlprovider",
    }
    assert listed - providers == {type_to_module[u] for u in used}


def test_collector_blocks_the_attribute_keys_the_bot_masks() -> None:
    """The collector's redaction/secrets keys and the in-process key rule are one pattern,
    so an attribute the bot would mask is masked by the collector for any other sender."""
    config = yaml.safe_load(BASE_CONFIG.read_text())
    (pattern,) = config["processors"]["redaction/secrets"]["blocked_key_patterns"]
    assert pattern == f"(?i).*({SECRET_KEY_PATTERN}).*"


def test_prometheus_config_is_valid_without_rules(tmp_path: Path) -> None:
    """promtool accepts prometheus.yml as shipped, and alone (no rules generated yet)."""
    promtool = services.require_binary("promtool", "prometheus")
    shipped = subprocess.run(
        [promtool, "check", "config", str(PROMETHEUS_CONFIG)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert shipped.returncode == 0, shipped.stdout + shipped.stderr
    alone = tmp_path / "prometheus.yml"
    shutil.copy(PROMETHEUS_CONFIG, alone)
    result = subprocess.run(
        [promtool, "check", "config", str(alone)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- the real pipeline ---------------------------------------------------------------


def poll(check: Callable[[], Any], what: str, timeout: float = 45.0) -> Any:
    """Retry ``check`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not arrive within {timeout:.0f} s")
        time.sleep(0.5)


def discord_like_token() -> str:
    """A random value shaped like a Discord bot token (the shape the config masks)."""
    alphabet = string.ascii_letters + string.digits
    first, second, third = (
        "".join(secrets.choice(alphabet) for _ in range(n)) for n in (23, 6, 27)
    )
    return f"M{first}.{second}.{third}"


def send_telemetry(endpoint: str, service_name: str, planted: dict[str, str]) -> None:
    """One span (a DB client call), one log record and three metrics over OTLP/HTTP."""
    resource = Resource.create({SERVICE_NAME: service_name})

    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces"))
    )
    tracer = tracer_provider.get_tracer("tests.deploy")
    with tracer.start_as_current_span("UPDATE guild_settings", kind=SpanKind.CLIENT) as span:
        span.set_attribute(DB_SYSTEM_NAME, "mysql")
        span.set_attribute(SERVER_ADDRESS, "db.internal")
        span.set_attribute(
            DB_QUERY_TEXT, f"UPDATE guild_settings SET api_key = '{planted['sql']}' WHERE id = 7"
        )
        span.set_attribute(
            "dbsbm.test.dsn", f"mysql://dbsbm:{planted['dsn']}@db.internal:3306/dbsbm"
        )
        span.set_attribute("dbsbm.test.note", f"bot ready with {planted['discord']}")
    tracer_provider.shutdown()

    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(
        SimpleLogRecordProcessor(OTLPLogExporter(endpoint=f"{endpoint}/v1/logs"))
    )
    logger_provider.get_logger("tests.deploy").emit(
        LogRecord(
            body=(
                f"login failed: password={planted['log']} Authorization: Bearer {planted['bearer']}"
            ),
            severity_number=SeverityNumber.WARN,
            severity_text="WARN",
            attributes={"dbsbm.test.marker": service_name},
        )
    )
    logger_provider.shutdown()

    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=f"{endpoint}/v1/metrics"), export_interval_millis=60_000
    )
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    meter = meter_provider.get_meter("tests.deploy")
    attrs = {semconv.CACHE_TIER: "redis", semconv.CACHE_RESULT: "hit"}
    counter = semconv.CACHE_OPERATIONS
    meter.create_counter(counter.name, counter.unit, counter.description).add(3, attrs)
    histogram = semconv.CACHE_OPERATION_DURATION
    meter.create_histogram(histogram.name, histogram.unit, histogram.description).record(
        0.004, attrs
    )
    gauge = semconv.CACHE_FALLBACK_ACTIVE
    meter.create_gauge(gauge.name, gauge.unit, gauge.description).set(1)
    meter_provider.shutdown()


@pytest.fixture
def pipeline(
    collector_factory: Callable[..., services.CollectorService],
    prometheus_factory: Callable[..., services.PrometheusService],
    tmp_path: Path,
) -> Iterator[tuple[services.CollectorService, services.PrometheusService, Path]]:
    """Sink collector + Prometheus + the main collector on the unchanged base config."""
    sink_dir = tmp_path / "sink"
    sink_dir.mkdir()
    sink = collector_factory(
        configs=[SINK_CONFIG], env={"SINK_DIR": str(sink_dir)}, name="otelcol-sink"
    )
    prometheus = prometheus_factory()
    main = collector_factory(
        configs=[BASE_CONFIG],
        env={
            "TEMPO_OTLP_ENDPOINT": f"{services.LOCALHOST}:{sink.otlp_grpc_port}",
            "LOKI_OTLP_ENDPOINT": sink.otlp_http_endpoint,
            "PROMETHEUS_REMOTE_WRITE_URL": prometheus.remote_write_url,
            **FAST_ENV,
        },
    )
    yield main, prometheus, sink_dir


def read_sink(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def test_pipeline_delivers_redacted_telemetry(
    pipeline: tuple[services.CollectorService, services.PrometheusService, Path],
) -> None:
    """Span, log and metrics reach Tempo's, Loki's and Prometheus' stand-ins, secrets masked."""
    main, prometheus, sink_dir = pipeline
    service_name = f"dbsbm-test-{secrets.token_hex(4)}"
    planted = {key: f"s3cr3t{key}{secrets.token_hex(8)}" for key in ("sql", "dsn", "log", "bearer")}
    planted["discord"] = discord_like_token()
    send_telemetry(main.otlp_http_endpoint, service_name, planted)

    def series(name: str) -> list[dict[str, Any]]:
        return prometheus.query(f'{name}{{job="{service_name}"}}')

    counter = poll(lambda: series(semconv.CACHE_OPERATIONS.prometheus), "the counter")
    assert counter[0]["value"][1] == "3"
    assert counter[0]["metric"]["service_name"] == service_name
    poll(lambda: series(semconv.CACHE_OPERATION_DURATION.prometheus + "_bucket"), "the histogram")
    poll(lambda: series(semconv.CACHE_FALLBACK_ACTIVE.prometheus), "the gauge")
    calls = poll(lambda: series("traces_span_metrics_calls_total"), "span metrics")
    assert calls[0]["metric"][semconv.label(DB_SYSTEM_NAME)] == "mysql"
    poll(
        lambda: series("traces_span_metrics_duration_milliseconds_bucket"),
        "the span duration histogram",
    )
    for name in (
        "system_memory_utilization_ratio",
        "system_cpu_utilization_ratio",
        "system_filesystem_utilization_ratio",
    ):
        poll(lambda n=name: prometheus.query(n), f"host metric {name}")
    telemetry = f"http://{services.LOCALHOST}:{main.control.env['OTELCOL_TELEMETRY_PORT']}/metrics"
    with urllib.request.urlopen(telemetry, timeout=5) as response:
        assert "otelcol_receiver_accepted_spans" in response.read().decode()

    traces = poll(
        lambda: (
            service_name in read_sink(sink_dir / "traces.json")
            and read_sink(sink_dir / "traces.json")
        ),
        "the span in the sink",
    )
    logs = poll(
        lambda: (
            service_name in read_sink(sink_dir / "logs.json") and read_sink(sink_dir / "logs.json")
        ),
        "the log record in the sink",
    )
    assert "mysql://dbsbm:****@db.internal" in traces
    assert "password=****" in logs and "Bearer ****" in logs

    stored = json.dumps(prometheus.query('{__name__=~".+"}'))
    for key, secret in planted.items():
        for where, text in (("traces", traces), ("logs", logs), ("prometheus", stored)):
            assert secret not in text, f"the {key} secret leaked into {where}"
