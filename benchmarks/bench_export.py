"""What a collector outage costs the bot, measured side by side in one run:

* span start+end with the collector down  vs  up (target ratio <= 1.05). "Up" is the
  built collector on deploy/otel-collector/otelcol-config.yml when both exist, else a
  minimal OTLP/HTTP sink (tests/bootstrap/support.py); the run says which.
* RSS growth over a sustained load (default 60 s) with the collector down: bounded
  (the batch queues are bounded and the guard drops batches while it is away).
* ``Telemetry.shutdown()`` with the collector down (target <= 2 s) and the whole exit.

Each measurement runs in a fresh interpreter (telemetry set-up is once per process)
configured by ``configure_telemetry()`` from OTEL_* variables, as the bot would be.
Rounds alternate down/up; the best round of each is reported (shared machine).

    python benchmarks/bench_export.py [--seconds 60] [--rounds 5]
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SPANS = 20_000

CHILD = r"""
import json, logging, os, sys, time, threading
import psutil
from opentelemetry import trace
from dbsbm_instrumentation.bootstrap import configure_telemetry

mode, seconds = sys.argv[1], float(sys.argv[2])
telemetry = configure_telemetry()
tracer = trace.get_tracer("bench")
process = psutil.Process()
result = {}
if mode == "spans":
    for _ in range(2000):  # warm-up, and lets a first failed export open the guard
        with tracer.start_as_current_span("warm"):
            pass
    time.sleep(1.5)
    n = SPANS_PER_ROUND
    start = time.perf_counter()
    for i in range(n):
        with tracer.start_as_current_span("command.bet") as span:
            span.set_attribute("dbsbm.discord.command.name", "bet")
    result["span_us"] = (time.perf_counter() - start) / n * 1e6
else:
    log = logging.getLogger("bot")
    end = time.monotonic() + seconds
    samples = []
    next_sample = time.monotonic() + 5
    spans = 0
    while time.monotonic() < end:
        for _ in range(50):
            with tracer.start_as_current_span("command.bet") as span:
                span.set_attribute("db.query.text", "SELECT * FROM bets WHERE id = %s")
                log.info("bet placed %d", spans)
                spans += 1
        time.sleep(0.01)
        if time.monotonic() >= next_sample:
            samples.append(process.memory_info().rss)
            next_sample += 5
    result["rss_samples_mb"] = [round(s / 2**20, 1) for s in samples]
    result["spans"] = spans
start = time.perf_counter()
telemetry.shutdown()
result["shutdown_s"] = time.perf_counter() - start
result["last_line"] = time.time()
print(json.dumps(result), flush=True)
""".replace("SPANS_PER_ROUND", str(SPANS))


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_child(
    mode: str, endpoint: str, seconds: float = 0, extra_env: dict[str, str] | None = None
) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "DBSBM_"))}
    env.update(extra_env or {})
    env.update(
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
            "OTEL_SERVICE_NAME": "bench-export",
            "OTEL_BSP_SCHEDULE_DELAY": "200",
            "OTEL_METRIC_EXPORT_INTERVAL": "5000",
            "PYTHONPATH": os.pathsep.join(
                str(REPO / d) for d in ("instrumentation", "resilience", "")
            ),
        }
    )
    started = time.time()
    out = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(seconds)],
        env=env,
        capture_output=True,
        text=True,
        timeout=seconds + 120,
        check=False,
    )
    ended = time.time()
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 or not lines:
        raise SystemExit(f"child {mode} failed:\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    result["exit_after_last_line_s"] = ended - float(result["last_line"])
    result["wall_s"] = ended - started
    result["stderr_lines"] = [line[:160] for line in out.stderr.splitlines() if line.strip()]
    return result


def collector_up() -> tuple[str, Any]:
    """The built collector when its config and binary are there, else the OTLP sink."""
    config = REPO / "deploy/otel-collector/otelcol-config.yml"
    if config.exists():
        try:
            from tests import services

            workdir = services.service_dir("bench-otelcol")
            collector = services.start_collector(workdir, [config])
            atexit.register(shutil.rmtree, workdir, ignore_errors=True)
            return "built collector (" + str(config.relative_to(REPO)) + ")", collector
        except BaseException as error:  # pytest.skip/fail raise BaseException
            print(f"(collector not usable: {error}; using the OTLP sink)")
    from tests.bootstrap.support import OtlpHttpStandIn

    return "minimal OTLP/HTTP sink (tests/bootstrap/support.py)", OtlpHttpStandIn()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="RSS load duration")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    label, up = collector_up()
    up_endpoint = getattr(up, "otlp_http_endpoint", None) or up.endpoint
    down_endpoint = f"http://127.0.0.1:{_closed_port()}"
    print(f"collector up = {label}; down = nothing listening on {down_endpoint}")
    try:
        down_us: list[float] = []
        up_us: list[float] = []
        shutdowns: list[float] = []
        for _ in range(args.rounds):
            down = run_child("spans", down_endpoint)
            down_us.append(float(down["span_us"]))
            shutdowns.append(float(down["shutdown_s"]))
            up_us.append(float(run_child("spans", up_endpoint)["span_us"]))
        best_down, best_up = min(down_us), min(up_us)
        print(f"span start+end ({SPANS} per round, best of {args.rounds} alternating rounds):")
        print(f"  collector down {best_down:7.2f} us   (rounds: {_fmt(down_us)})")
        print(f"  collector up   {best_up:7.2f} us   (rounds: {_fmt(up_us)})")
        print(f"  ratio down/up: {best_down / best_up:.3f}x (target <= 1.05x)")
        print(f"shutdown() after the span load, collector down: max {max(shutdowns):.2f} s")

        load = run_child("load", down_endpoint, args.seconds)
        samples = load["rss_samples_mb"]
        assert isinstance(samples, list) and samples
        print(
            f"{args.seconds:.0f} s of load with the collector down ({load['spans']} spans and "
            f"log lines): RSS {samples[0]} MB at 5 s -> {samples[-1]} MB at the end "
            f"(growth {samples[-1] - samples[0]:+.1f} MB; samples {samples})"
        )
        print(
            f"  shutdown() {float(load['shutdown_s']):.2f} s (target <= 2 s); process exit "
            f"{float(load['exit_after_last_line_s']):.2f} s after its last line; "
            f"stderr:"
        )
        for line in load["stderr_lines"]:
            print(f"    {line}")
    finally:
        up.close()


def _fmt(values: list[float]) -> str:
    return ", ".join(f"{v:.1f}" for v in values)


if __name__ == "__main__":
    main()
