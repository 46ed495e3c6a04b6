"""The runner: real outages, dependencies, timeouts, and the OpenTelemetry gauges."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from dbsbm_agent.config import AgentConfig
from dbsbm_agent.probers import host as host_prober
from dbsbm_agent.probers.base import ProbeResult, Status
from dbsbm_agent.probers.host import HostReadings
from dbsbm_agent.scheduler import Scheduler, instrument
from dbsbm_instrumentation import semconv
from tests.services import MySQLService, RedisService

from .conftest import HttpServe

INTERVAL = 0.2


@pytest.fixture
async def running() -> AsyncIterator[Callable[[AgentConfig], Scheduler]]:
    """Start schedulers in the background and stop them after the test."""
    started: list[Scheduler] = []

    def start(config: AgentConfig) -> Scheduler:
        scheduler = Scheduler(config)
        scheduler.start()
        started.append(scheduler)
        return scheduler

    yield start
    for scheduler in started:
        await scheduler.stop()


@pytest.fixture
def calm_host(monkeypatch: pytest.MonkeyPatch) -> None:
    """Host readings well below the thresholds, so the machine's load cannot fail a test."""
    monkeypatch.setattr(host_prober, "host_reader", lambda path: HostReadings(0.1, 0.1, 0.1))


async def wait_until(check: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll ``check`` every 20 ms; return the seconds it took, fail after ``timeout``."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            pytest.fail(f"{what} not within {timeout} s")
        await asyncio.sleep(0.02)
    return time.monotonic() - started


def status(scheduler: Scheduler, name: str) -> Status | None:
    result = scheduler.results.get(name)
    return result.status if result else None


@pytest.mark.integration
async def test_redis_outage_fails_and_skips_dependents(
    redis_factory: Callable[[], RedisService],
    make_config: Callable[..., AgentConfig],
    running: Callable[[AgentConfig], Scheduler],
    calm_host: None,
) -> None:
    """Redis stopped: its probe fails within one interval, dependents skip; restarted: pass."""
    redis = redis_factory()
    config = make_config(
        f"""
        probes:
          redis: {{interval: {INTERVAL}, timeout: {INTERVAL}, required: true}}
          host: {{interval: 30, depends_on: [redis]}}
          host2: {{kind: host, interval: 30, depends_on: [host]}}
    """,
        {"REDIS_URL": redis.url},
    )
    scheduler = running(config)
    await wait_until(lambda: status(scheduler, "host2") is not None, 10, "first cycle")
    assert status(scheduler, "redis") is Status.PASS
    assert status(scheduler, "host") is not Status.SKIP

    redis.stop()
    took = await wait_until(lambda: status(scheduler, "redis") is Status.FAIL, 5, "redis fail")
    assert took <= INTERVAL + 1.0  # one interval, plus the run itself and CI slack
    # The dependents have a 30 s interval, yet follow at once.
    await wait_until(lambda: status(scheduler, "host2") is Status.SKIP, 2, "dependents skip")
    assert scheduler.results["host"].output == "skipped: depends on redis, which failed"
    assert scheduler.results["host2"].output == "skipped: depends on host, which was skipped"
    assert scheduler.failing_required() == ["redis"]
    assert scheduler.overall_status() is Status.FAIL

    redis.start()
    await wait_until(lambda: status(scheduler, "redis") is Status.PASS, 10, "redis pass again")
    await wait_until(
        lambda: status(scheduler, "host2") not in (Status.SKIP, None), 2, "dependents run again"
    )
    assert scheduler.failing_required() == []


@pytest.mark.integration
async def test_mysql_outage_and_recovery(
    mysql_factory: Callable[[], MySQLService],
    make_config: Callable[..., AgentConfig],
    running: Callable[[AgentConfig], Scheduler],
    calm_host: None,
) -> None:
    """MariaDB stopped: the probe fails within one interval and readiness drops; back: pass."""
    mysql = mysql_factory()
    config = make_config(
        f"""
        probes:
          mysql: {{interval: {INTERVAL}, timeout: {INTERVAL}, latency_warn: 5}}
          host: {{interval: 30, depends_on: [mysql]}}
    """,
        mysql.env,
    )
    scheduler = running(config)
    await wait_until(lambda: status(scheduler, "mysql") is Status.PASS, 10, "mysql pass")

    mysql.stop()
    took = await wait_until(lambda: status(scheduler, "mysql") is Status.FAIL, 5, "mysql fail")
    assert took <= INTERVAL + 1.0
    await wait_until(lambda: status(scheduler, "host") is Status.SKIP, 2, "dependent skip")
    assert scheduler.failing_required() == ["mysql"]

    mysql.start()
    await wait_until(lambda: status(scheduler, "mysql") is Status.PASS, 30, "mysql pass again")
    assert scheduler.stats["mysql"].runs > scheduler.stats["mysql"].successes > 0


@pytest.mark.integration
async def test_paused_redis_costs_only_the_timeout(
    redis_factory: Callable[[], RedisService],
    make_config: Callable[..., AgentConfig],
) -> None:
    """A hung (SIGSTOPped) Redis fails at the probe's timeout."""
    redis = redis_factory()
    config = make_config("probes: {redis: {interval: 1, timeout: 0.3}}", {"REDIS_URL": redis.url})
    redis.pause()
    try:
        result = await Scheduler(config).run_probe("redis")
    finally:
        redis.resume()
    assert result.status is Status.FAIL
    assert 0.25 <= result.duration < 1.0


async def test_hanging_http_target_fails_at_the_timeout(
    http_serve: HttpServe,
    make_config: Callable[..., AgentConfig],
) -> None:
    """A server that sleeps past the timeout fails at the timeout, not when it answers."""

    async def hang(_: web.Request) -> web.Response:
        await asyncio.sleep(10)
        return web.Response(text="too late")

    app = web.Application()
    app.router.add_get("/hang", hang)
    base = await http_serve(app)
    config = make_config(f"""
        probes:
          api: {{kind: http, url: "{base}/hang", interval: 1, timeout: 0.3}}
    """)
    started = time.monotonic()
    result = await Scheduler(config).run_probe("api")
    assert time.monotonic() - started < 1.0  # the server answers after 10 s
    assert result.status is Status.FAIL
    assert result.output == "timed out after 0.3 s"
    assert 0.3 <= result.duration < 1.0


async def test_one_cycle_runs_independent_probes_concurrently(
    http_serve: HttpServe,
    make_config: Callable[..., AgentConfig],
) -> None:
    """Three 0.3 s probes finish in about 0.3 s; a dependent waits for its dependency."""

    async def slow(_: web.Request) -> web.Response:
        await asyncio.sleep(0.3)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/", slow)
    base = await http_serve(app)
    config = make_config(f"""
        probes:
          a: {{kind: http, url: "{base}/", latency_warn: 5}}
          b: {{kind: http, url: "{base}/", latency_warn: 5}}
          c: {{kind: http, url: "{base}/", latency_warn: 5}}
          d: {{kind: http, url: "{base}/", latency_warn: 5, depends_on: [a]}}
    """)
    started = time.monotonic()
    results = await Scheduler(config).run_once()
    elapsed = time.monotonic() - started
    assert {n: r.status for n, r in results.items()} == dict.fromkeys("abcd", Status.PASS)
    assert 0.6 <= elapsed < 1.0  # a then d (0.6 s), b and c beside them; in series: 1.2 s
    assert results["d"].time > results["a"].time


async def test_prober_bug_is_a_failure_not_a_crash(
    make_config: Callable[..., AgentConfig],
) -> None:
    """An exception escaping a prober becomes a fail result; the loop survives."""

    async def broken(*_: Any) -> ProbeResult:
        raise RuntimeError("bug")

    scheduler = Scheduler(make_config("probes: {host: {}}"), probers={"host": broken})
    result = await scheduler.run_probe("host")
    assert (result.status, result.output) == (Status.FAIL, "probe error: RuntimeError: bug")


async def test_stop_survives_a_swallowed_cancellation(
    make_config: Callable[..., AgentConfig],
) -> None:
    """A prober that eats a cancellation (as 3.11's wait_for can) cannot hang stop()."""
    calls: list[int] = []

    async def stubborn(*_: Any) -> ProbeResult:
        calls.append(1)
        if len(calls) > 1:  # the first cycle passes; the loop's run hangs
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                pass
        return ProbeResult(Status.PASS)

    scheduler = Scheduler(
        make_config("probes: {host: {interval: 30, timeout: 30}}"), probers={"host": stubborn}
    )
    scheduler.start()
    await wait_until(lambda: "host" in scheduler._loops, 5, "loop started")
    scheduler._wake["host"].set()
    await wait_until(lambda: len(calls) == 2, 5, "second run started")
    started = time.monotonic()
    await scheduler.stop()
    assert time.monotonic() - started < 1.0
    assert scheduler.liveness() == []


async def test_liveness_ignores_targets_but_not_stuck_loops(
    make_config: Callable[..., AgentConfig],
    running: Callable[[AgentConfig], Scheduler],
) -> None:
    """Failing probes keep the agent live; a stopped loop does not."""
    config = make_config(f"""
        probes:
          redis: {{url: "redis://127.0.0.1:1/0", interval: {INTERVAL}, timeout: {INTERVAL}}}
    """)
    scheduler = running(config)
    await wait_until(lambda: status(scheduler, "redis") is Status.FAIL, 5, "redis fail")
    await wait_until(lambda: "redis" in scheduler._loops, 5, "probe loop started")
    assert scheduler.liveness() == []
    scheduler._last_started["redis"] -= 100  # as if the loop had hung for 100 s
    assert scheduler.liveness() == ["probe redis has not run for 100 s"]
    scheduler._loops["redis"].cancel()
    await asyncio.sleep(0.05)
    assert scheduler.liveness()[0] == "the loop of probe redis stopped"


def points(reader: InMemoryMetricReader) -> dict[str, list[tuple[dict[str, Any], float]]]:
    """Metric name -> [(attributes, value)] from one collection."""
    data = reader.get_metrics_data()
    found: dict[str, list[tuple[dict[str, Any], float]]] = {}
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                found[metric.name] = [
                    (dict(p.attributes or {}), p.value) for p in metric.data.data_points
                ]
    return found


async def test_gauges_read_the_latest_results(
    http_serve: HttpServe,
    make_config: Callable[..., AgentConfig],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """probe_success, probe_duration_seconds, extras and health status via InMemoryMetricReader."""

    async def ok(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/", ok)
    base = await http_serve(app)
    monkeypatch.setattr(host_prober, "host_reader", lambda path: HostReadings(0.85, 0.1, 0.2))
    config = make_config(f"""
        probes:
          api: {{kind: http, url: "{base}/", latency_warn: 5}}
          host: {{}}
          discord: {{required: false}}
    """)
    reader = InMemoryMetricReader()
    scheduler = Scheduler(config)
    instrument(lambda: scheduler, MeterProvider(metric_readers=[reader]))
    assert semconv.HEALTH_STATUS.name not in points(reader)
    await scheduler.run_once()
    found = points(reader)

    api = {semconv.PROBE_NAME: "api", semconv.PROBE_KIND: "http"}
    host = {semconv.PROBE_NAME: "host", semconv.PROBE_KIND: "host"}
    assert sorted(found[semconv.PROBE_SUCCESS.name], key=str) == sorted(
        [(api, 1), (host, 1)], key=str
    )  # discord was skipped: no sample
    durations = {a[semconv.PROBE_NAME]: v for a, v in found[semconv.PROBE_DURATION.name]}
    assert durations.keys() == {"api", "host"} and all(v > 0 for v in durations.values())
    assert found[semconv.PROBE_HTTP_STATUS_CODE.name] == [(api, 200)]
    assert ({**host, semconv.PROBE_HOST_RESOURCE: "memory"}, 0.85) in found[
        semconv.PROBE_HOST_UTILIZATION.name
    ]
    assert found[semconv.HEALTH_STATUS.name] == [({}, 0.5)]  # memory at 85 % warns
    assert found[semconv.AGENT_CONFIG_RELOAD.name] == [({}, 1)]
