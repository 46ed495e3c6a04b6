"""Nothing lost across a collector outage, and one bad item never takes others down.

The outage is staged by :mod:`tests.bootstrap.outage`: a bot emitting 20 spans, log
records and counter increments a second to the built collector, which is killed (-9) or
stopped (SIGTERM) for 10 s; what it accepted is counted in its sink files. The 120 s
outage is benchmarks/bench_outage.py's.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bootstrap.outage import lines, received, stage, start_sink
from tests.bootstrap.support import run_python
from tests.services import service_dir


@pytest.mark.parametrize("how", ["kill -9", "SIGTERM"])
def test_a_10_s_collector_outage_loses_nothing(how: str) -> None:
    """Every span and log record sent before, during and after the outage arrives, and
    the counter's cumulative total reaches the collector; one line on stderr."""
    outcome = stage(service_dir("outage"), how, down_s=10)
    assert outcome.sent > 300
    assert sorted(set(range(outcome.sent)) - outcome.received.spans) == []
    assert sorted(set(range(outcome.sent)) - outcome.received.records) == []
    assert outcome.received.count == outcome.sent
    errors = [line for line in outcome.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and "Buffering telemetry" in errors[0], outcome.stderr


def test_one_huge_span_never_takes_normal_spans_down(tmp_path: Path) -> None:
    """A 15 MB attribute and a span with 100,000 attributes, among normal spans, over gRPC
    (4 MiB receive limit): every normal span arrives, the huge ones arrive cut down."""
    workdir = service_dir("huge-span")
    out = workdir / "sink"
    out.mkdir()
    collector = start_sink(workdir, out)
    try:
        result = run_python(
            tmp_path,
            """
            import time
            from opentelemetry import trace
            from dbsbm_instrumentation.bootstrap import configure_telemetry

            telemetry = configure_telemetry(system_metrics=False, logs=False)
            tracer = trace.get_tracer("steady")
            for sent in range(200):
                with tracer.start_as_current_span("steady") as span:
                    span.set_attribute("seq", sent)
                    if sent == 50:
                        span.set_attribute("payload", "x" * 15_000_000)
                    if sent == 120:
                        for i in range(100_000):
                            span.set_attribute(f"a{i}", i)
                time.sleep(0.005)
            telemetry.shutdown(10)
        """,
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": collector.otlp_grpc_endpoint,
                "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
                "OTEL_METRICS_EXPORTER": "none",
                "OTEL_BSP_SCHEDULE_DELAY": "200",
            },
        )
        assert result.returncode == 0, result.stderr[-2000:]
        assert "Traceback" not in result.stderr
        assert result.stderr.count("Attributes dict is full") == 1  # not 99,872 times
        spans = [
            span
            for request in lines(out / "traces.json")
            for resource in request["resourceSpans"]
            for scope in resource["scopeSpans"]
            for span in scope["spans"]
        ]
    finally:
        collector.close()
    # Span 120 keeps its newest 128 attributes (the SDK's count limit), so not "seq".
    assert sorted(set(range(200)) - {120} - received([out]).spans) == []
    (crowded,) = [
        s for s in spans if {"key": "a99999", "value": {"intValue": "99999"}} in s["attributes"]
    ]
    assert len(crowded["attributes"]) == 128
    (big,) = [s for s in spans if {"key": "seq", "value": {"intValue": "50"}} in s["attributes"]]
    (payload,) = [a["value"]["stringValue"] for a in big["attributes"] if a["key"] == "payload"]
    assert len(payload) == 16384
