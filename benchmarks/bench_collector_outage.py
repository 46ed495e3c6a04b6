"""What the collector loses when its destinations or the collector itself go down, and
its memory under abuse, in one run.

* loss table: a sender emits 20 spans, log records and counter increments a second into
  the built collector while Tempo's and Loki's stand-in (the sink collector) and
  Prometheus are down for ``--down`` seconds (default 300), and while the collector is
  killed (-9) with data queued and restarted. Our shipped config beside the baseline
  (the same config with the queues in memory and a 60 s retry budget, as shipped
  before), both stacks side by side in the same window -> sent / received / lost per
  signal (goal: 0 lost for ours);
* peak RSS of the collector under 24 concurrent 20 MB OTLP requests (HTTP, then gRPC),
  against OTELCOL_MEMORY_LIMIT_MIB's default.

    python benchmarks/bench_collector_outage.py [--down 300]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests import services  # noqa: E402 - needs REPO on the path
from tests.deploy.collector_stage import (  # noqa: E402
    BASE_CONFIG,
    Delivery,
    Stack,
    Traffic,
    peak_rss_mib,
    start_stack,
    wait_delivered,
)
from tests.deploy.test_collector_reliability import grpc_export, otlp_body, post  # noqa: E402

# The queues as shipped before: in memory, retried for 60 s.
BASELINE_OVERLAY = """
exporters:
  otlp_grpc/tempo:
    sending_queue: {storage: null}
  otlp_http/loki:
    sending_queue: {storage: null}
"""
BASELINE_ENV = {"OTELCOL_RETRY_MAX_ELAPSED_TIME": "60s"}
MEMORY_LIMIT_MIB = 320
# After a long outage the gRPC exporter's channel reconnects with its own backoff (up to
# 2 min) on top of the retry interval (up to 45 s): give delivery that long, and more.
RECOVERY_S = 300.0


@contextlib.contextmanager
def stacks(workdir: Path) -> Iterator[dict[str, Stack]]:
    """Ours and the baseline, each with its own sink and Prometheus; all closed at exit."""
    started: list[services.CollectorService | services.PrometheusService] = []

    def make_collector(**kwargs: Any) -> services.CollectorService:
        service = services.start_collector(Path(tempfile.mkdtemp(dir=workdir)), **kwargs)
        started.append(service)
        return service

    def make_prometheus() -> services.PrometheusService:
        service = services.start_prometheus(Path(tempfile.mkdtemp(dir=workdir)))
        started.append(service)
        return service

    workdir.mkdir(parents=True, exist_ok=True)
    overlay = workdir / "baseline.yml"
    overlay.write_text(BASELINE_OVERLAY)
    try:
        yield {
            "ours": start_stack(make_collector, make_prometheus(), workdir / "sink-ours"),
            "baseline": start_stack(
                make_collector,
                make_prometheus(),
                workdir / "sink-baseline",
                configs=(BASE_CONFIG, overlay),
                env=BASELINE_ENV,
            ),
        }
    finally:
        for service in reversed(started):
            service.close()


def run_scenario(
    workdir: Path, label: str, outage: Callable[[Stack, Traffic], None], every_sample: bool
) -> None:
    with stacks(workdir) as both:
        traffic = {
            name: Traffic(stack.main.otlp_http_endpoint, f"bench-{name}-{secrets.token_hex(3)}")
            for name, stack in both.items()
        }
        for one in traffic.values():
            one.start()
        time.sleep(3)
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda name: outage(both[name], traffic[name]), both))
        time.sleep(3)
        for one in traffic.values():
            one.stop()
        recovered = time.monotonic()
        for name, stack in both.items():
            # Ours first; the baseline has had that long too by the time it is read.
            timeout = RECOVERY_S if name == "ours" else 30.0
            outcome = wait_delivered(stack, traffic[name], timeout, every_sample)
            waited = time.monotonic() - recovered
            report(label, name, outcome, waited if outcome.complete(every_sample) else None)
            if outcome.missing and every_sample:
                began = traffic[name].began
                at = ", ".join(f"{t / 1000 - began:.1f}" for t in outcome.missing[:10])
                print(f"    counter samples missing at s after start (outage from 3 s): {at}")


def report(label: str, config: str, d: Delivery, waited: float | None) -> None:
    """One row; ``waited``: seconds from the end of traffic until all had arrived."""
    after = "never" if waited is None else f"{waited:.0f} s"
    print(
        f"{label:28s} {config:8s} | {d.sent:6d} {d.sent - d.spans_lost:6d} {d.spans_lost:5d} "
        f"| {d.sent:6d} {d.sent - d.logs_lost:6d} {d.logs_lost:5d} "
        f"| {d.exported:5d} {d.stored:5d} {d.exported - d.stored:5d} | {d.last:6.0f} "
        f"| {after}",
        flush=True,
    )


def destinations_down(seconds: float) -> Callable[[Stack, Traffic], None]:
    def outage(stack: Stack, traffic: Traffic) -> None:
        stack.sink.control.stop()
        stack.prometheus.stop()
        time.sleep(seconds)
        stack.sink.control.start()
        stack.prometheus.start()

    return outage


def collector_killed(stack: Stack, traffic: Traffic) -> None:
    """Destinations down 10 s, the collector killed -9 with that queued, restarted."""
    stack.sink.control.stop()
    stack.prometheus.stop()
    time.sleep(10)
    traffic.pause()
    stack.main.control.kill()
    stack.main.control.start()
    traffic.resume()
    stack.sink.control.start()
    stack.prometheus.start()


def abuse(workdir: Path) -> None:
    with stacks(workdir) as both:
        stack = both["ours"]
        pid = stack.main.control.pid
        assert pid is not None
        before = peak_rss_mib(pid)
        body = otlp_body(20_000_000)
        url = f"{stack.main.otlp_http_endpoint}/v1/traces"
        grpc_endpoint = f"{services.LOCALHOST}:{stack.main.otlp_grpc_port}"
        with concurrent.futures.ThreadPoolExecutor(24) as pool:
            http_codes = sorted(set(pool.map(lambda _: post(url, body), range(24))))
            after_http = peak_rss_mib(pid)
            grpc_codes = sorted(
                {c.name for c in pool.map(lambda _: grpc_export(grpc_endpoint, body), range(24))}
            )
        after_grpc = peak_rss_mib(pid)
        alive = stack.main.control.exited() is None
    print(
        f"collector peak RSS, 24 concurrent 20 MB requests (limit {MEMORY_LIMIT_MIB} MiB): "
        f"idle {before:.0f} MiB, after HTTP {after_http:.0f} MiB (answers {http_codes}), "
        f"after gRPC {after_grpc:.0f} MiB (answers {grpc_codes}); "
        f"peak/limit {after_grpc / MEMORY_LIMIT_MIB:.2f}; alive: {alive}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--down", type=float, default=300.0, help="destination outage, s")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="dbsbm-bench-collector-"))
    try:
        print(
            f"{'scenario':28s} {'config':8s} | spans sent/recv/lost | logs sent/recv/lost "
            "| counter samples exp/stored/lost | last value | complete after"
        )
        run_scenario(
            workdir / "down",
            f"destinations down {args.down:.0f} s",
            destinations_down(args.down),
            every_sample=True,
        )
        run_scenario(workdir / "kill", "collector kill -9, restart", collector_killed, False)
        abuse(workdir / "abuse")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
