"""The runner: schedules probes, bounds them, records results and exports metrics.

As in blackbox_exporter's handler, only the runner times a prober, applies its timeout
(``asyncio.timeout``, so a hanging target costs at most that) and decides
``probe_success``. Each probe has its own loop and interval; probes run concurrently.

Dependencies (``depends_on``): a probe whose dependency failed is not run and is
reported ``skip`` with the cause. When a probe turns from working to failing (or back),
its dependents are woken at once instead of waiting for their own interval, so the
whole chain reflects the change within the failing probe's interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, MeterProvider
from opentelemetry.metrics import Observation as MetricObservation

from dbsbm_instrumentation import semconv

from .config import AgentConfig
from .probers import KINDS, PROBERS
from .probers.base import ProbeConfig, Prober, ProbeResult, Recorder, Status

logger = logging.getLogger("dbsbm_agent")

# A probe loop that has not started a run for interval + timeout + this is stuck.
LIVENESS_GRACE_SECONDS = 5.0
STOP_TIMEOUT_SECONDS = 5.0
HEALTH_VALUES = {Status.PASS: 1.0, Status.WARN: 0.5, Status.FAIL: 0.0}


@dataclass
class ProbeStats:
    """Per-probe bookkeeping for /report: runs, successes, skips, durations, failure streak."""

    runs: int = 0
    successes: int = 0
    skipped: int = 0
    total_duration: float = 0.0
    consecutive_failures: int = 0

    def add(self, result: ProbeResult) -> None:
        if result.status is Status.SKIP:
            self.skipped += 1
            return
        self.runs += 1
        self.total_duration += result.duration
        if result.ok:
            self.successes += 1
            self.consecutive_failures = 0
        else:
            self.consecutive_failures += 1


class Scheduler:
    """Runs the configured probes and keeps each one's latest result."""

    def __init__(self, config: AgentConfig, *, probers: Mapping[str, Prober] = PROBERS) -> None:
        self.config = config
        self.probers = probers
        self.results: dict[str, ProbeResult] = {}
        self.stats: dict[str, ProbeStats] = {name: ProbeStats() for name in config.probes}
        self.started_at = datetime.now(UTC)
        self.config_reload_successful = True
        self._last_started: dict[str, float] = {}
        self._wake: dict[str, asyncio.Event] = {}
        self._main: asyncio.Task[None] | None = None
        self._stopping = False
        self._loops: dict[str, asyncio.Task[None]] = {}
        self._dependents: dict[str, list[str]] = {name: [] for name in config.probes}
        for probe in config.probes.values():
            for dependency in probe.depends_on:
                self._dependents[dependency].append(probe.name)

    # --- running ---------------------------------------------------------------------

    async def run_probe(self, name: str) -> ProbeResult:
        """One run of one probe, bounded by its timeout; never raises."""
        probe = self.config.probes[name]
        self._last_started[name] = time.monotonic()
        result = self._skip_for_dependencies(probe)
        if result is None:
            result = await self._call(probe)
        previous = self.results.get(name)
        self.results[name] = result
        self.stats[name].add(result)
        if previous is not None and previous.ok != result.ok:
            for dependent in self._dependents[name]:
                if dependent in self._wake:
                    self._wake[dependent].set()
        return result

    def _skip_for_dependencies(self, probe: ProbeConfig[Any]) -> ProbeResult | None:
        for dependency in probe.depends_on:
            result = self.results.get(dependency)
            if result is None or result.ok:
                continue
            verb = "failed" if result.status is Status.FAIL else "was skipped"
            return ProbeResult(
                Status.SKIP,
                f"skipped: depends on {dependency}, which {verb}",
                blocked_by=dependency,
            )
        return None

    async def _call(self, probe: ProbeConfig[Any]) -> ProbeResult:
        prober = self.probers[probe.kind]
        registry = Recorder()
        wall = datetime.now(UTC)
        started = time.perf_counter()
        try:
            async with asyncio.timeout(probe.timeout):
                result = await prober(probe.target, probe, registry, logger)
        except TimeoutError:
            result = ProbeResult(Status.FAIL, f"timed out after {probe.timeout:g} s")
            logger.warning(
                "probe failed: %s",
                result.output,
                extra={
                    "probe": probe.name,
                    "probe_kind": probe.kind,
                    "target": probe.target,
                    "error.type": "TimeoutError",
                },
            )
        except Exception as exc:  # a prober bug must not stop its loop
            result = ProbeResult(Status.FAIL, f"probe error: {type(exc).__name__}: {exc}")
            logger.exception(
                "prober raised",
                extra={
                    "probe": probe.name,
                    "probe_kind": probe.kind,
                    "target": probe.target,
                    "error.type": type(exc).__qualname__,
                },
            )
        duration = time.perf_counter() - started
        return replace(
            result, duration=duration, time=wall, observations=tuple(registry.observations)
        )

    async def run_once(self) -> dict[str, ProbeResult]:
        """One full cycle: every probe once, concurrently, each after its dependencies."""
        tasks: dict[str, asyncio.Task[ProbeResult]] = {}
        for name in self.config.order:
            dependencies = [tasks[d] for d in self.config.probes[name].depends_on]
            tasks[name] = asyncio.create_task(self._after(dependencies, name))
        await asyncio.gather(*tasks.values())
        return {name: task.result() for name, task in tasks.items()}

    async def _after(self, dependencies: list[asyncio.Task[ProbeResult]], name: str) -> ProbeResult:
        if dependencies:
            await asyncio.wait(dependencies)
        return await self.run_probe(name)

    def start(self) -> None:
        """Run a first full cycle, then one loop per probe, in the background."""
        self._main = asyncio.create_task(self._first_cycle(), name="dbsbm-agent-scheduler")

    async def _first_cycle(self) -> None:
        await self.run_once()
        for name in self.config.order:
            self._wake[name] = asyncio.Event()
            self._loops[name] = asyncio.create_task(self._loop(name), name=f"probe-{name}")

    async def _loop(self, name: str) -> None:
        wake = self._wake[name]
        interval = self.config.probes[name].interval
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval):
                    await wake.wait()
            wake.clear()
            await self.run_probe(name)

    async def stop(self) -> None:
        """Cancel every loop, again until it ends: on Python 3.11 a cancellation that
        races with a completing ``asyncio.wait_for`` (aiomysql's connect timeout) is
        lost, and a loop that lost it would keep probing and hang shutdown."""
        self._stopping = True
        pending = {*self._loops.values(), *([self._main] if self._main else [])}
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        while pending and time.monotonic() < deadline:
            for task in pending:
                task.cancel()
            _, pending = await asyncio.wait(pending, timeout=0.1)
        if pending:
            logger.warning(
                "probe loops did not stop",
                extra={"tasks": sorted(task.get_name() for task in pending)},
            )
        self._main = None
        self._loops.clear()

    # --- judging ---------------------------------------------------------------------

    def liveness(self) -> list[str]:
        """Problems with the agent itself (empty: alive). Never looks at targets."""
        problems = []
        now = time.monotonic()
        if (
            self._main is not None
            and self._main.done()
            and (self._main.cancelled() or self._main.exception() is not None)
        ):
            problems.append("the scheduler stopped before its first cycle ended")
        for name, task in self._loops.items():
            if task.done():
                problems.append(f"the loop of probe {name} stopped")
        for name, probe in self.config.probes.items():
            last = self._last_started.get(name)
            limit = probe.interval + probe.timeout + LIVENESS_GRACE_SECONDS
            if last is not None and now - last > limit:
                problems.append(f"probe {name} has not run for {now - last:.0f} s")
        return problems

    def failing_required(self) -> list[str]:
        """Required probes that failed, were skipped for a failed dependency, or never ran."""
        failing = []
        for name, probe in self.config.probes.items():
            result = self.results.get(name)
            if probe.required and (
                result is None or result.status is Status.FAIL or result.blocked_by is not None
            ):
                failing.append(name)
        return failing

    def overall_status(self) -> Status:
        """fail if a required probe is failing (see above); warn if any probe warns or fails."""
        if self.failing_required():
            return Status.FAIL
        if any(r.status in (Status.WARN, Status.FAIL) for r in self.results.values()):
            return Status.WARN
        return Status.PASS


def instrument(
    scheduler: Callable[[], Scheduler], meter_provider: MeterProvider | None = None
) -> None:
    """Observable gauges that read the latest results at each collection.

    ``scheduler`` is a callable so a configuration reload can swap the scheduler.
    Skipped probes export no ``probe_success`` sample: 0 would page someone for a
    probe that did not run, 1 would claim a check that was not made.
    """
    provider = meter_provider or metrics.get_meter_provider()
    meter = provider.get_meter("dbsbm_agent")

    def attributes(probe: ProbeConfig[Any]) -> dict[str, str]:
        return {semconv.PROBE_NAME: probe.name, semconv.PROBE_KIND: probe.kind}

    def ran() -> Iterable[tuple[ProbeConfig[Any], ProbeResult]]:
        current = scheduler()
        for name, result in list(current.results.items()):
            if result.status is not Status.SKIP:
                yield current.config.probes[name], result

    def success(_: CallbackOptions) -> Iterable[MetricObservation]:
        return [MetricObservation(int(r.ok), attributes(p)) for p, r in ran()]

    def duration(_: CallbackOptions) -> Iterable[MetricObservation]:
        return [MetricObservation(r.duration, attributes(p)) for p, r in ran()]

    def extra(
        instrument: semconv.Instrument,
    ) -> Callable[[CallbackOptions], Iterable[MetricObservation]]:
        def callback(_: CallbackOptions) -> Iterable[MetricObservation]:
            return [
                MetricObservation(o.value, {**attributes(p), **o.attributes})
                for p, r in ran()
                for o in r.observations
                if o.instrument is instrument
            ]

        return callback

    def health(_: CallbackOptions) -> Iterable[MetricObservation]:
        current = scheduler()
        if not current.results:
            return []
        return [MetricObservation(HEALTH_VALUES[current.overall_status()])]

    def reload(_: CallbackOptions) -> Iterable[MetricObservation]:
        return [MetricObservation(int(scheduler().config_reload_successful))]

    callbacks = {
        semconv.PROBE_SUCCESS: success,
        semconv.PROBE_DURATION: duration,
        # Each kind's own probe_<kind>_* instruments (two kinds may share one).
        **{spec: extra(spec) for kind in KINDS.values() for spec in kind.instruments},
        semconv.HEALTH_STATUS: health,
        semconv.AGENT_CONFIG_RELOAD: reload,
    }
    for spec, callback in callbacks.items():
        meter.create_observable_gauge(
            spec.name, callbacks=[callback], unit=spec.unit, description=spec.description
        )
