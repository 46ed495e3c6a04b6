"""The export buffer (configurator.ExportGuard) on its own: order, bounds, counting."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, NumberDataPoint
from opentelemetry.sdk.trace.export import SpanExportResult

from dbsbm_instrumentation import configurator
from dbsbm_instrumentation.configurator import BufferLimits, Destination, ExportGuard
from dbsbm_instrumentation.semconv import TELEMETRY_BUFFER_DROPPED


@dataclass
class Item:
    """Stands in for a span: span_size() reads its name, attributes, events and links."""

    name: str
    attributes: dict[str, Any] = field(default_factory=dict)
    events: tuple[Any, ...] = ()
    links: tuple[Any, ...] = ()


@dataclass
class Flaky:
    """An exporter that refuses while ``up`` is False and records what it took."""

    up: bool = True
    taken: list[list[str]] = field(default_factory=list)

    def export(self, batch: Sequence[Item], /) -> SpanExportResult:
        if not self.up:
            return SpanExportResult.FAILURE
        self.taken.append([item.name for item in batch])
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None


@pytest.fixture(autouse=True)
def dropped() -> InMemoryMetricReader:
    """A meter provider whose reader sees dbsbm.telemetry.buffer.dropped."""
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    configurator._dropped = provider.get_meter("test").create_counter(TELEMETRY_BUFFER_DROPPED.name)
    configurator._outages.clear()
    return reader


def _counted(reader: InMemoryMetricReader) -> dict[str, int]:
    data = reader.get_metrics_data()
    counts: dict[str, int] = {}
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    assert isinstance(point, NumberDataPoint) and point.attributes
                    counts[str(point.attributes["reason"])] = int(point.value)
    return counts


def _guard(exporter: Flaky, limits: BufferLimits) -> ExportGuard[Item, SpanExportResult]:
    return ExportGuard(
        exporter,
        signal="traces",
        destination=Destination("http://collector:4318", "OTEL_EXPORTER_OTLP_ENDPOINT"),
        success=SpanExportResult.SUCCESS,
        failure=SpanExportResult.FAILURE,
        limits=limits,
        size=configurator.span_size,
    )


def test_what_fails_is_sent_later_in_order_and_the_oldest_go_past_the_bound(
    dropped: InMemoryMetricReader,
) -> None:
    """Held while the destination refuses; the oldest dropped past 5 items; order kept."""
    exporter = Flaky(up=False)
    guard = _guard(exporter, BufferLimits(items=5, batch_items=2))
    guard.export([Item("a"), Item("b"), Item("c")])
    guard.outage.resume_at = 0.0  # the pause is over
    guard.export([Item("d"), Item("e"), Item("f"), Item("g")])
    exporter.up = True
    guard.outage.resume_at = 0.0
    guard.export([Item("h")])
    assert exporter.taken == [["d", "e"], ["f", "g"], ["h"]]
    assert _counted(dropped) == {"buffer_full": 3}


def test_one_item_bigger_than_a_batch_is_dropped_alone(dropped: InMemoryMetricReader) -> None:
    """The others around it are sent; it is counted as oversized."""
    exporter = Flaky()
    guard = _guard(exporter, BufferLimits(batch_bytes=2048))
    guard.export([Item("a"), Item("huge", {"payload": "x" * 4096}), Item("b")])
    assert [name for batch in exporter.taken for name in batch] == ["a", "b"]
    assert _counted(dropped) == {"oversized": 1}


def test_no_buffer_drops_what_it_cannot_send(dropped: InMemoryMetricReader) -> None:
    """DBSBM_OTLP_BUFFER_MAX_ITEMS=0: a batch that fails is dropped and counted."""
    exporter = Flaky(up=False)
    guard = _guard(exporter, BufferLimits(items=0))
    guard.export([Item("a"), Item("b")])
    exporter.up = True
    guard.outage.resume_at = 0.0
    guard.export([Item("c")])
    assert exporter.taken == [["c"]]
    assert _counted(dropped) == {"buffer_full": 2}


@pytest.mark.parametrize(
    "variable",
    ["DBSBM_OTLP_BUFFER_MAX_ITEMS", "DBSBM_OTLP_BUFFER_MAX_BYTES", "DBSBM_OTLP_BATCH_MAX_BYTES"],
)
def test_malformed_buffer_setting_gives_one_line_and_the_default(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, variable: str
) -> None:
    """One WARNING naming the variable; the default is used."""
    monkeypatch.setenv(variable, "lots")
    with caplog.at_level("WARNING"):
        limits = BufferLimits.from_environ(batch_items=512)
    assert limits == BufferLimits()
    assert [r.getMessage().split("=")[0] for r in caplog.records] == [variable]
