"""Real SDK providers with exporters that drop everything: what the benchmarks measure.

Spans go through a ``BatchSpanProcessor`` and metrics through a periodic reader, as in
production, so their queueing and aggregation costs are counted; only the network
export is left out.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    MetricExporter,
    MetricExportResult,
    MetricsData,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased


class _DropSpans(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


class _DropMetrics(MetricExporter):
    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: object
    ) -> MetricExportResult:
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: object) -> None:
        return None


def providers(sample_ratio: float = 1.0) -> tuple[TracerProvider, MeterProvider]:
    """``sample_ratio`` < 1 samples traces as production might (metrics are never sampled)."""
    tracer_provider = TracerProvider(sampler=ParentBased(TraceIdRatioBased(sample_ratio)))
    tracer_provider.add_span_processor(BatchSpanProcessor(_DropSpans()))
    reader = PeriodicExportingMetricReader(_DropMetrics(), export_interval_millis=5_000)
    return tracer_provider, MeterProvider(metric_readers=[reader])


async def per_op_us(op: Callable[[], Awaitable[object]], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        await op()
    return (time.perf_counter() - start) / n * 1e6


async def compare(
    op: Callable[[], Awaitable[object]],
    instrument: Callable[[], None],
    uninstrument: Callable[[], None],
    *,
    n: int,
    rounds: int,
) -> tuple[float, float]:
    """Best-round µs/op bare and instrumented.

    Rounds alternate so drift hits both alike, and the best round of each is kept: on a
    shared machine the slower rounds measure other people's jobs, not our code.
    """
    bare: list[float] = []
    ours: list[float] = []
    await per_op_us(op, n // 5)  # warm-up
    for _ in range(rounds):
        bare.append(await per_op_us(op, n))
        instrument()
        ours.append(await per_op_us(op, n))
        uninstrument()
    return min(bare), min(ours)


def report(name: str, bare: float, ours: float, target: float | None = None) -> None:
    ratio = ours / bare
    verdict = (
        ""
        if target is None
        else f" (target <= {target:.2f}x: {'ok' if ratio <= target else 'MISSED'})"
    )
    print(
        f"{name}: bare {bare:.1f} µs/op, instrumented {ours:.1f} µs/op, "
        f"ratio {ratio:.3f}x, overhead {ours - bare:.1f} µs{verdict}"
    )
