"""A collector outage, staged: shared by tests/bootstrap/test_outage.py and
benchmarks/bench_outage.py.

A bot process (:data:`EMITTER`) emits a span, a log record and a counter increment 20
times a second through ``configure_telemetry()`` to a real collector: the built one,
running the dev stack's file sink config, so what it accepted is counted in its files.
The collector is killed (-9) or stopped (SIGTERM) for a while and started again on the
same ports.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.services import SINK_CONFIG, CollectorService, start_collector

EMITTER = """
    import logging, sys, time
    from opentelemetry import metrics, trace
    from dbsbm_instrumentation.bootstrap import configure_telemetry

    telemetry = configure_telemetry(system_metrics=False)
    tracer = trace.get_tracer("steady")
    counter = metrics.get_meter("steady").create_counter("steady.count")
    log = logging.getLogger("steady")
    log.setLevel(logging.INFO)
    sent, end = 0, time.monotonic() + float(sys.argv[1])
    while time.monotonic() < end:
        with tracer.start_as_current_span("steady") as span:
            span.set_attribute("seq", sent)
            log.info("steady %d", sent)
        counter.add(1)
        sent += 1
        time.sleep(0.05)
    print("sent", sent, flush=True)
    telemetry.shutdown(5)  # the 2 s default at exit is for bots; this counts a loaded machine
"""

# What the bot is given: the batch processors send every half second, metrics every one.
EMITTER_ENV = {
    "OTEL_BSP_SCHEDULE_DELAY": "500",
    "OTEL_BLRP_SCHEDULE_DELAY": "500",
    "OTEL_METRIC_EXPORT_INTERVAL": "1000",
}


def start_sink(workdir: Path, out: Path) -> CollectorService:
    """The dev stack's file sink, writing each request before it answers: with
    ``rotation`` set the file exporter writes straight to the file instead of through a
    buffer it flushes every 100 ms, which a kill -9 would lose after answering 200. The
    file exporter refuses ``append`` beside ``rotation``; this sink is never restarted."""
    config = workdir / "otelcol-sink-unbuffered.yml"
    text = SINK_CONFIG.read_text().replace("    append: true\n", "")
    config.write_text(
        text.replace("    flush_interval: 100ms", "    rotation:\n      max_megabytes: 1024")
    )
    return start_collector(workdir, [config], {"SINK_DIR": str(out)}, "otelcol-sink")


def lines(path: Path) -> Iterator[dict[str, Any]]:
    """The OTLP/JSON requests in one of the sink's files."""
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip():
                yield json.loads(line)


@dataclass
class Received:
    spans: set[int]
    records: set[int]
    count: int  # the highest cumulative steady.count point


def received(outs: list[Path]) -> Received:
    """What the sink wrote to the folders ``outs``."""
    got = Received(set(), set(), 0)
    for request in (line for out in outs for line in lines(out / "traces.json")):
        for resource in request.get("resourceSpans", []):
            for scope in resource.get("scopeSpans", []):
                for span in scope.get("spans", []):
                    for attribute in span.get("attributes", []):
                        if span["name"] == "steady" and attribute["key"] == "seq":
                            got.spans.add(int(attribute["value"]["intValue"]))
    for request in (line for out in outs for line in lines(out / "logs.json")):
        for resource in request.get("resourceLogs", []):
            for scope in resource.get("scopeLogs", []):
                for record in scope.get("logRecords", []):
                    body = record.get("body", {}).get("stringValue", "")
                    if body.startswith("steady "):
                        got.records.add(int(body.split()[1]))
    for request in (line for out in outs for line in lines(out / "metrics.json")):
        for resource in request.get("resourceMetrics", []):
            for scope in resource.get("scopeMetrics", []):
                for metric in scope.get("metrics", []):
                    if metric["name"] == "steady.count":
                        for point in metric["sum"]["dataPoints"]:
                            got.count = max(got.count, int(point["asInt"]))
    return got


@dataclass
class Outcome:
    sent: int
    received: Received
    stderr: str


def _environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "DBSBM_"))}


def stage(
    workdir: Path, how: str, down_s: float, before_s: float = 4, after_s: float = 10
) -> Outcome:
    """Run the emitter; ``before_s`` in, stop the collector (``how``: "kill -9" or
    "SIGTERM") for ``down_s``, start it again, let the emitter run ``after_s`` more."""
    first, second = workdir / "sink", workdir / "sink-after"
    first.mkdir()
    second.mkdir()
    collector = start_sink(workdir, first)
    script = workdir / "emitter.py"
    script.write_text(textwrap.dedent(EMITTER))
    bot = subprocess.Popen(
        [sys.executable, str(script), str(before_s + down_s + after_s)],
        env={
            **_environ(),
            **EMITTER_ENV,
            "OTEL_EXPORTER_OTLP_ENDPOINT": collector.otlp_http_endpoint,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(before_s)
        if how == "kill -9":
            collector.control.kill()
        else:
            collector.control.stop()
        time.sleep(down_s)
        # Into a second folder: the restarted sink starts its files afresh.
        collector.control = dataclasses.replace(
            collector.control, env={**collector.control.env, "SINK_DIR": str(second)}, popen=None
        )
        collector.control.start()
        stdout, stderr = bot.communicate(timeout=before_s + down_s + after_s + 60)
        sent = int(stdout.split()[-1])
        deadline = time.monotonic() + 15
        while True:
            got = received([first, second])
            done = len(got.spans) >= sent and len(got.records) >= sent and got.count >= sent
            if done or time.monotonic() > deadline:
                return Outcome(sent, got, stderr)
            time.sleep(0.2)
    finally:
        bot.kill()
        collector.close()
