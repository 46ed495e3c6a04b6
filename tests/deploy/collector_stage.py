"""Staging for the collector's reliability tests and benchmarks: steady traffic, counts.

A sender emits spans, log records and counter increments at a steady rate through the
Python OTLP exporters into the main collector; the sink collector (Tempo's and Loki's
stand-in) and Prometheus are its destinations. What arrived is counted by sequence
number, so "lost" means a number sent and never seen.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    MetricExportResult,
    MetricsData,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from tests import services

BASE_CONFIG = services.REPO / "deploy/otel-collector/otelcol-config.yml"
# The shipped config, batches flushed after 200 ms instead of 5 s.
FAST_ENV = {"OTELCOL_BATCH_TIMEOUT": "200ms", "OTELCOL_SPAN_METRICS_FLUSH_INTERVAL": "1s"}
SEQ = "dbsbm.test.seq"
COUNTER = "dbsbm.test.ticks"
# What the remote-write exporter makes of COUNTER (a unitless counter).
COUNTER_SERIES = "dbsbm_test_ticks_total"


class CountingMetricExporter(OTLPMetricExporter):
    """Counts successful exports: each one is a sample Prometheus should end up storing."""

    def __init__(self, endpoint: str) -> None:
        super().__init__(endpoint=endpoint)
        self.times: list[int] = []  # each exported sample's timestamp, ms since the epoch

    def export(
        self, metrics_data: MetricsData, timeout_millis: float | None = None, **kwargs: Any
    ) -> MetricExportResult:
        result = super().export(metrics_data, timeout_millis, **kwargs)
        if result is MetricExportResult.SUCCESS:
            self.times += [
                point.time_unix_nano // 1_000_000
                for resource in metrics_data.resource_metrics
                for scope in resource.scope_metrics
                for metric in scope.metrics
                if metric.name == COUNTER
                for point in metric.data.data_points
            ]
        return result

    @property
    def exported(self) -> int:
        return len(self.times)


@dataclass
class Traffic:
    """``rate`` spans, log records and counter increments a second into ``endpoint``."""

    endpoint: str
    service_name: str
    rate: float = 20.0
    sent: int = 0
    began: float = 0.0  # when start() was called, s since the epoch
    _stop: threading.Event = field(default_factory=threading.Event)
    _running: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        resource = Resource.create({"service.name": self.service_name})
        self.tracer_provider = TracerProvider(resource=resource)
        self.tracer_provider.add_span_processor(
            BatchSpanProcessor(
                OTLPSpanExporter(endpoint=f"{self.endpoint}/v1/traces"), schedule_delay_millis=200
            )
        )
        self.logger_provider = LoggerProvider(resource=resource)
        self.logger_provider.add_log_record_processor(
            BatchLogRecordProcessor(
                OTLPLogExporter(endpoint=f"{self.endpoint}/v1/logs"), schedule_delay_millis=200
            )
        )
        self.metric_exporter = CountingMetricExporter(f"{self.endpoint}/v1/metrics")
        reader = PeriodicExportingMetricReader(self.metric_exporter, export_interval_millis=500)
        self.meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
        self.counter = self.meter_provider.get_meter("tests.deploy").create_counter(COUNTER)

    def emit_one(self) -> None:
        seq = self.sent
        tracer = self.tracer_provider.get_tracer("tests.deploy")
        # One span name, as a bot has a few: span_metrics makes a series per name.
        with tracer.start_as_current_span("tick") as span:
            span.set_attribute(SEQ, seq)
        self.logger_provider.get_logger("tests.deploy").emit(
            LogRecord(
                body=f"tick {seq}", severity_number=SeverityNumber.INFO, attributes={SEQ: seq}
            )
        )
        self.counter.add(1)
        self.sent += 1

    def _run(self) -> None:
        while not self._stop.is_set():
            self._running.wait()
            if self._stop.is_set():
                return
            self.emit_one()
            self._stop.wait(1 / self.rate)

    def start(self) -> None:
        self.began = time.time()
        self._running.set()
        self._thread = threading.Thread(target=self._run, name="traffic", daemon=True)
        self._thread.start()

    def pause(self) -> None:
        """Stop emitting and push everything emitted so far into the collector."""
        self._running.clear()
        time.sleep(2 / self.rate)  # an emit in progress finishes
        self.tracer_provider.force_flush()
        self.logger_provider.force_flush()

    def resume(self) -> None:
        self._running.set()

    def stop(self) -> None:
        """Stop emitting and flush everything the SDK still holds into the collector."""
        self._stop.set()
        self._running.set()
        if self._thread is not None:
            self._thread.join()
        self.tracer_provider.shutdown()
        self.logger_provider.shutdown()
        self.meter_provider.shutdown()


def _lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:  # a line still being written
            continue
    return out


def _attr(attributes: Sequence[dict[str, Any]], key: str) -> Any:
    for attribute in attributes:
        if attribute["key"] == key:
            value = attribute["value"]
            return next(iter(value.values()), None)
    return None


def _resources(path: Path, kind: str, service_name: str) -> list[dict[str, Any]]:
    return [
        resource
        for line in _lines(path)
        for resource in line.get(kind, [])
        if _attr(resource.get("resource", {}).get("attributes", []), "service.name") == service_name
    ]


def sink_spans(sink_dir: Path, service_name: str) -> list[dict[str, Any]]:
    """Every span of ``service_name`` in the sink's traces file (duplicates kept)."""
    return [
        span
        for resource in _resources(sink_dir / "traces.json", "resourceSpans", service_name)
        for scope in resource.get("scopeSpans", [])
        for span in scope.get("spans", [])
    ]


def sink_logs(sink_dir: Path, service_name: str) -> list[dict[str, Any]]:
    return [
        record
        for resource in _resources(sink_dir / "logs.json", "resourceLogs", service_name)
        for scope in resource.get("scopeLogs", [])
        for record in scope.get("logRecords", [])
    ]


def seqs(items: Sequence[dict[str, Any]]) -> set[int]:
    """The sequence numbers Traffic stamped on ``items``."""
    found = (_attr(item.get("attributes", []), SEQ) for item in items)
    return {int(seq) for seq in found if seq is not None}


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident set (VmHWM) so far, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for pid {pid}")


@dataclass
class Stack:
    """The main collector and its destinations: the sink (Tempo, Loki) and Prometheus."""

    main: services.CollectorService
    sink: services.CollectorService
    prometheus: services.PrometheusService
    sink_dir: Path

    def telemetry(self) -> str:
        """The main collector's own metrics, Prometheus text format."""
        port = self.main.control.env["OTELCOL_TELEMETRY_PORT"]
        url = f"http://{services.LOCALHOST}:{port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            return str(response.read().decode())


def start_stack(
    make_collector: Callable[..., services.CollectorService],
    prometheus: services.PrometheusService,
    sink_dir: Path,
    configs: Sequence[Path] = (BASE_CONFIG,),
    env: dict[str, str] | None = None,
) -> Stack:
    """The sink, then the main collector on ``configs`` sending to it and ``prometheus``."""
    sink_dir.mkdir(parents=True, exist_ok=True)
    sink = make_collector(
        configs=[services.SINK_CONFIG], env={"SINK_DIR": str(sink_dir)}, name="otelcol-sink"
    )
    main = make_collector(
        configs=list(configs),
        env={
            "TEMPO_OTLP_ENDPOINT": f"{services.LOCALHOST}:{sink.otlp_grpc_port}",
            "LOKI_OTLP_ENDPOINT": sink.otlp_http_endpoint,
            "PROMETHEUS_REMOTE_WRITE_URL": prometheus.remote_write_url,
            **FAST_ENV,
            **(env or {}),
        },
    )
    return Stack(main, sink, prometheus, sink_dir)


def counter_samples(prometheus: services.PrometheusService, job: str) -> list[tuple[int, float]]:
    """The traffic's counter samples Prometheus stored: (ms since the epoch, value)."""
    found = prometheus.query(f'{COUNTER_SERIES}{{job="{job}"}}[1h]')
    values = cast(list[tuple[float, str]], found[0]["values"]) if found else []
    return [(round(float(t) * 1000), float(v)) for t, v in values]


@dataclass(frozen=True)
class Delivery:
    """What of a Traffic's output reached the destinations."""

    sent: int
    spans_lost: int
    logs_lost: int
    exported: int  # counter samples the SDK exported
    stored: int  # counter samples Prometheus holds
    last: float  # the counter's last value in Prometheus
    missing: tuple[int, ...]  # timestamps (ms) of exported samples Prometheus lacks

    def complete(self, every_sample: bool) -> bool:
        samples_ok = self.stored == self.exported or not every_sample
        return not self.spans_lost and not self.logs_lost and self.last == self.sent and samples_ok


def delivery(stack: Stack, traffic: Traffic) -> Delivery:
    sent = set(range(traffic.sent))
    name = traffic.service_name
    samples = counter_samples(stack.prometheus, name)
    stored = {t for t, _ in samples}
    exported = traffic.metric_exporter.times
    return Delivery(
        sent=traffic.sent,
        spans_lost=len(sent - seqs(sink_spans(stack.sink_dir, name))),
        logs_lost=len(sent - seqs(sink_logs(stack.sink_dir, name))),
        exported=len(exported),
        stored=len(samples),
        last=samples[-1][1] if samples else 0.0,
        missing=tuple(t for t in exported if t not in stored),
    )


def wait_delivered(
    stack: Stack, traffic: Traffic, timeout: float, every_sample: bool = True
) -> Delivery:
    """Poll until everything arrived or ``timeout`` passed; what arrived by then."""
    deadline = time.monotonic() + timeout
    while True:
        outcome = delivery(stack, traffic)
        if outcome.complete(every_sample) or time.monotonic() > deadline:
            return outcome
        time.sleep(1)
