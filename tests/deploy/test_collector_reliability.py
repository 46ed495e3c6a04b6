"""The shipped collector config keeps what it accepted, bounded and closed, run for real.

Destinations are the sink collector (devstack/otelcol-sink.yml, Tempo's and Loki's
stand-in) and Prometheus; the main collector runs deploy/otel-collector/otelcol-config.yml
unchanged except for addresses and a short batch timeout.
"""

from __future__ import annotations

import concurrent.futures
import os
import re
import secrets
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcSpanExporter,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

from tests import services
from tests.deploy.collector_stage import (
    BASE_CONFIG,
    Stack,
    Traffic,
    peak_rss_mib,
    seqs,
    sink_spans,
    start_stack,
    wait_delivered,
)

pytestmark = pytest.mark.integration

REPO = services.REPO
FOLDER = REPO / "deploy/otel-collector"
AUTH_CONFIG = FOLDER / "otelcol-auth.yml"
ENV_CHECK = FOLDER / "otelcol-env-check.sh"
# The bytes queued by the exporters that queue on disk.
QUEUE_SIZE = re.compile(
    r'otelcol_exporter_queue_size\{[^}]*exporter="(?:otlp_grpc/tempo|otlp_http/loki)"[^}]*\} (\S+)'
)
# The exporters retry at most every 30 s: after an outage allow for one full wait.
RECOVERY_S = 90.0


@pytest.fixture
def stack(
    collector_factory: Callable[..., services.CollectorService],
    prometheus_factory: Callable[..., services.PrometheusService],
    tmp_path: Path,
) -> Stack:
    return start_stack(collector_factory, prometheus_factory(), tmp_path / "sink")


def wait_until(check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(1)
    return True


def assert_all_arrived(stack: Stack, traffic: Traffic) -> None:
    """Every span and log record sent reaches its destination; the counter's total does.

    Metrics count as complete when the cumulative total is (a single sample can go: the
    remote-write queue is in memory, so a crash loses what it held, and after an outage
    Prometheus now and then refuses a request whose target_info sample is out of order,
    which the exporter drops: see deploy/otel-collector/README.md; the benchmark
    benchmarks/bench_collector_outage.py counts the samples).
    """
    outcome = wait_delivered(stack, traffic, RECOVERY_S, every_sample=False)
    assert not outcome.spans_lost, f"{outcome.spans_lost} of {outcome.sent} spans lost"
    assert not outcome.logs_lost, f"{outcome.logs_lost} of {outcome.sent} log records lost"
    assert outcome.last == outcome.sent, f"counter at {outcome.last}, {outcome.sent} added"


def test_destinations_down_30s_lose_nothing(stack: Stack) -> None:
    """Tempo's and Loki's stand-in and Prometheus stopped for 30 s: every span and log
    record arrives, and the counter's total."""
    traffic = Traffic(stack.main.otlp_http_endpoint, f"dbsbm-outage-{secrets.token_hex(4)}")
    traffic.start()
    time.sleep(3)
    stack.sink.control.stop()
    stack.prometheus.stop()
    time.sleep(30)
    stack.sink.control.start()
    stack.prometheus.start()
    time.sleep(3)
    traffic.stop()
    assert_all_arrived(stack, traffic)


def test_collector_killed_with_queued_data_loses_nothing(stack: Stack) -> None:
    """kill -9 while the queues hold data the destinations never got, then a restart.

    The sender pauses (everything it emitted flushed into the collector) around the
    crash: what a sender loses while the collector is down is the SDK's side.
    """
    traffic = Traffic(stack.main.otlp_http_endpoint, f"dbsbm-restart-{secrets.token_hex(4)}")
    stack.sink.control.stop()
    stack.prometheus.stop()
    traffic.start()
    time.sleep(5)
    traffic.pause()

    def queued() -> bool:
        sizes = QUEUE_SIZE.findall(stack.telemetry())
        return bool(sizes) and all(float(size) > 0 for size in sizes)

    assert wait_until(queued, 10), "the trace and log queues never both held data"
    stack.main.control.kill()
    stack.main.control.start()
    traffic.resume()
    stack.sink.control.start()
    stack.prometheus.start()
    time.sleep(3)
    traffic.stop()
    assert_all_arrived(stack, traffic)


def test_oversized_items_are_cut_and_the_rest_arrives(stack: Stack) -> None:
    """A 15 MB attribute and a span with 100,000 attributes, from another sender (OTLP
    gRPC, whose cap admits 15 MB), amid 500 ordinary spans over HTTP: all 500 arrive, and
    the two arrive cut to the configured limits."""
    name = f"dbsbm-big-{secrets.token_hex(4)}"
    resource = Resource.create({"service.name": name})
    normal = TracerProvider(resource=resource)
    normal.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{stack.main.otlp_http_endpoint}/v1/traces"))
    )
    other = TracerProvider(resource=resource, span_limits=SpanLimits(max_span_attributes=200_000))
    grpc_endpoint = f"{services.LOCALHOST}:{stack.main.otlp_grpc_port}"
    other.add_span_processor(
        SimpleSpanProcessor(GrpcSpanExporter(endpoint=grpc_endpoint, insecure=True))
    )

    tracer = normal.get_tracer("tests.deploy")
    for seq in range(250):
        with tracer.start_as_current_span(f"normal {seq}") as span:
            span.set_attribute("dbsbm.test.seq", seq)
    with other.get_tracer("tests.deploy").start_as_current_span("huge value") as span:
        span.set_attribute("dbsbm.test.blob", "x" * 15_000_000)
    with other.get_tracer("tests.deploy").start_as_current_span("many attributes") as span:
        span.set_attributes({f"dbsbm.test.k{i}": i for i in range(100_000)})
    for seq in range(250, 500):
        with tracer.start_as_current_span(f"normal {seq}") as span:
            span.set_attribute("dbsbm.test.seq", seq)
    normal.shutdown()
    other.shutdown()

    def arrived() -> bool:
        names = {span["name"] for span in sink_spans(stack.sink_dir, name)}
        return {"huge value", "many attributes"} <= names and len(names) >= 502

    wait_until(arrived, 60)
    spans = {span["name"]: span for span in sink_spans(stack.sink_dir, name)}
    missing = set(range(500)) - seqs(list(spans.values()))
    assert not missing, f"{len(missing)} of 500 ordinary spans lost"
    (blob,) = spans["huge value"]["attributes"]
    assert len(blob["value"]["stringValue"]) == 8192
    assert len(spans["many attributes"]["attributes"]) == 128


def otlp_body(size: int) -> bytes:
    """An OTLP/protobuf ExportTraceServiceRequest of about ``size`` bytes (one big span)."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    request = ExportTraceServiceRequest()
    span = request.resource_spans.add().scope_spans.add().spans.add()
    span.trace_id = secrets.token_bytes(16)
    span.span_id = secrets.token_bytes(8)
    span.name = "abuse"
    attribute = span.attributes.add()
    attribute.key = "dbsbm.test.blob"
    attribute.value.string_value = "x" * size
    return bytes(request.SerializeToString())


def post(url: str, body: bytes) -> int:
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/x-protobuf"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except (ConnectionError, urllib.error.URLError):
        return 0  # the server closed the connection on an oversized body


def grpc_export(endpoint: str, body: bytes) -> grpc.StatusCode:
    with grpc.insecure_channel(
        endpoint, options=[("grpc.max_send_message_length", 64 * 1024 * 1024)]
    ) as channel:
        call = channel.unary_unary(
            "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
            request_serializer=None,
            response_deserializer=None,
        )
        try:
            call(body, timeout=60)
        except grpc.RpcError as error:
            return error.code()
        return grpc.StatusCode.OK


def test_abuse_keeps_rss_below_the_limit(stack: Stack) -> None:
    """24 concurrent 20 MB requests over HTTP, then over gRPC: refused, RSS below the limit."""
    limit_mib = 320  # OTELCOL_MEMORY_LIMIT_MIB's default
    body = otlp_body(20_000_000)
    pid = stack.main.control.pid
    assert pid is not None
    url = f"{stack.main.otlp_http_endpoint}/v1/traces"
    grpc_endpoint = f"{services.LOCALHOST}:{stack.main.otlp_grpc_port}"
    with concurrent.futures.ThreadPoolExecutor(24) as pool:
        http_codes = list(pool.map(lambda _: post(url, body), range(24)))
        grpc_codes = list(pool.map(lambda _: grpc_export(grpc_endpoint, body), range(24)))
    peak = peak_rss_mib(pid)
    assert stack.main.control.exited() is None, "the collector died"
    assert set(http_codes) <= {0, 400, 413, 429, 503}, http_codes
    assert set(grpc_codes) <= {
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.UNAVAILABLE,
    }, grpc_codes
    assert peak < limit_mib, f"peak RSS {peak:.0f} MiB, limit {limit_mib} MiB"


@pytest.mark.parametrize("token_set", [True, False], ids=["auth-on", "auth-off"])
def test_bearer_token(
    collector_factory: Callable[..., services.CollectorService], token_set: bool
) -> None:
    """With otelcol-auth.yml and a token, OTLP needs it; without the overlay, nothing does."""
    token = secrets.token_urlsafe(24)
    configs = [BASE_CONFIG, AUTH_CONFIG] if token_set else [BASE_CONFIG]
    env = {"OTELCOL_OTLP_BEARER_TOKEN": token} if token_set else {}
    main = collector_factory(configs=configs, env=env)
    url = f"{main.otlp_http_endpoint}/v1/traces"
    body = otlp_body(10)

    def send(headers: dict[str, str]) -> int:
        request = urllib.request.Request(
            url, data=body, headers={"Content-Type": "application/x-protobuf", **headers}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            return int(error.code)

    good = {"Authorization": f"Bearer {token}"}
    bad = {"Authorization": "Bearer wrong"}
    if token_set:
        assert (send({}), send(bad), send(good)) == (401, 401, 200)
    else:
        assert send({}) == 200

    # The SDK's own way to send it: OTEL_EXPORTER_OTLP_HEADERS.
    script = (
        "from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter\n"
        "from opentelemetry.sdk.trace import TracerProvider\n"
        "from opentelemetry.sdk.trace.export import SimpleSpanProcessor\n"
        "p = TracerProvider(); e = OTLPSpanExporter()\n"
        "r = []; x = e.export; e.export = lambda s: r.append(x(s)) or r[-1]\n"
        "p.add_span_processor(SimpleSpanProcessor(e))\n"
        "p.get_tracer('t').start_span('s').end(); print(r[0].name)\n"
    )
    env_sdk = {
        **os.environ,
        "OTEL_EXPORTER_OTLP_ENDPOINT": main.otlp_http_endpoint,
        "OTEL_EXPORTER_OTLP_HEADERS": f"authorization=Bearer {token}",
    }
    result = subprocess.run(
        ["python", "-c", script], capture_output=True, text=True, env=env_sdk, check=False
    )
    assert result.stdout.strip() == "SUCCESS", result.stderr[-500:]


BAD_VALUES = {
    "OTELCOL_MEMORY_LIMIT_MIB": "400M",
    "OTELCOL_QUEUE_MAX_BYTES": "-1",
    "OTELCOL_BATCH_MAX_BYTES": "3MiB",
    "OTELCOL_RETRY_MAX_ELAPSED_TIME": "15 minutes",
    "OTELCOL_BATCH_TIMEOUT": "soon",
    "OTELCOL_OTLP_GRPC_MAX_RECV_MSG_MIB": "0",
    "OTELCOL_OTLP_HTTP_MAX_REQUEST_BYTES": "16MiB",
    "OTELCOL_ATTRIBUTE_VALUE_LENGTH_LIMIT": "abc",
    "OTELCOL_ATTRIBUTE_COUNT_LIMIT": "1.5",
    "OTELCOL_LOG_BODY_LENGTH_LIMIT": "1e6",
    "OTELCOL_OTLP_BEARER_TOKEN": "has space",
}


@pytest.mark.parametrize(("name", "value"), sorted(BAD_VALUES.items()))
def test_malformed_setting_is_named(name: str, value: str) -> None:
    """One line naming the variable, exit 2, the collector never started."""
    result = subprocess.run(
        ["sh", str(ENV_CHECK), "false"],
        capture_output=True,
        text=True,
        env={**os.environ, name: value},
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and name in lines[0], result.stderr


def test_token_required_by_the_auth_overlay_is_named() -> None:
    """otelcol-auth.yml on the command line and no token: the variable is named."""
    env = {k: v for k, v in os.environ.items() if k != "OTELCOL_OTLP_BEARER_TOKEN"}
    result = subprocess.run(
        ["sh", str(ENV_CHECK), "false", f"--config={AUTH_CONFIG}"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 2
    assert "OTELCOL_OTLP_BEARER_TOKEN" in result.stderr and len(result.stderr.splitlines()) == 1


def test_env_check_passes_good_values_and_runs_the_command() -> None:
    """Defaults and well-formed values pass; the command then runs with its arguments."""
    good = {
        "OTELCOL_MEMORY_LIMIT_MIB": "256",
        "OTELCOL_RETRY_MAX_ELAPSED_TIME": "1h30m",
        "OTELCOL_BATCH_TIMEOUT": "200ms",
        "OTELCOL_OTLP_BEARER_TOKEN": "abc.DEF-123_~+/=",
        "OTELCOL_ATTRIBUTE_COUNT_LIMIT": "",  # empty means the default, as in the config
    }
    result = subprocess.run(
        ["sh", str(ENV_CHECK), "echo", "ran"],
        capture_output=True,
        text=True,
        env={**os.environ, **good},
        check=False,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "ran\n", "")


def test_listeners_default_to_loopback() -> None:
    """Receivers, health check and self-metrics bind 127.0.0.1 unless told otherwise."""
    text = BASE_CONFIG.read_text()
    for variable in (
        "OTELCOL_OTLP_GRPC_ENDPOINT",
        "OTELCOL_OTLP_HTTP_ENDPOINT",
        "OTELCOL_HEALTH_ENDPOINT",
        "OTELCOL_TELEMETRY_HOST",
    ):
        assert f"${{env:{variable}:-127.0.0.1" in text, variable
    assert "0.0.0.0" not in text.split("\nextensions:", 1)[1]
