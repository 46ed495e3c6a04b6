"""Probers for what the bot depends on, in blackbox_exporter's shape.

Every prober has one signature, ``async (target, module, registry, logger) ->
ProbeResult``, and :data:`PROBERS` maps a probe kind to it. ``module`` is the probe's
:class:`~dbsbm_agent.config.ProbeConfig`; ``registry`` is a fresh :class:`Recorder` per
run, where a prober records its own ``probe_<kind>_*`` observations. The runner
(:mod:`dbsbm_agent.scheduler`) owns the timeout, the duration and ``probe_success``.

A prober never raises for a failing target: it logs the cause with structured fields
and returns a ``fail`` result. Client libraries are imported inside the prober that
uses them, so an agent without a MySQL probe never loads aiomysql.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from dbsbm_instrumentation import semconv
from dbsbm_instrumentation.semconv import Instrument

from .config import ProbeConfig


class Status(StrEnum):
    """``pass``/``warn``/``fail`` as in draft-inadarei-api-health-check, plus ``skip``."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"


@dataclass(frozen=True)
class Observation:
    """One extra reading; with a ``measurement`` it is also its own /health check."""

    instrument: Instrument
    value: float
    attributes: dict[str, str] = field(default_factory=dict)
    measurement: str | None = None
    observed_value: float | None = None
    observed_unit: str = ""
    status: Status | None = None
    output: str = ""


class Recorder:
    """The per-run registry: what a prober observed beyond pass/fail."""

    def __init__(self) -> None:
        self.observations: list[Observation] = []

    def observe(self, observation: Observation) -> None:
        self.observations.append(observation)


@dataclass(frozen=True)
class ProbeResult:
    """One probe run. ``duration`` and ``time`` are filled in by the runner."""

    status: Status
    output: str = ""
    measurement: str = "responseTime"
    observed_value: float | None = None
    observed_unit: str = ""
    duration: float = 0.0
    time: datetime = field(default_factory=lambda: datetime.now(UTC))
    observations: tuple[Observation, ...] = ()
    blocked_by: str | None = None  # the failing dependency a skip is due to

    @property
    def ok(self) -> bool:
        """Pass and warn both mean the dependency works (blackbox's probe_success=1)."""
        return self.status in (Status.PASS, Status.WARN)


Prober = Callable[[str, ProbeConfig, Recorder, logging.Logger], Awaitable[ProbeResult]]


def _failed(
    logger: logging.Logger, module: ProbeConfig, message: str, exc: BaseException | None = None
) -> ProbeResult:
    logger.warning(
        "probe failed: %s",
        message,
        extra={
            "probe": module.name,
            "probe_kind": module.kind,
            "target": module.target,
            "error.type": type(exc).__qualname__ if exc else None,
        },
    )
    return ProbeResult(Status.FAIL, message)


def _timed(module: ProbeConfig, started: float, what: str) -> ProbeResult:
    """A passing network probe's result: warn when slower than ``latency_warn``."""
    elapsed = time.perf_counter() - started
    millis = round(elapsed * 1000, 3)
    if module.latency_warn is not None and elapsed > module.latency_warn:
        return ProbeResult(
            Status.WARN,
            f"{what} in {millis:g} ms, above {module.latency_warn * 1000:g} ms",
            observed_value=millis,
            observed_unit="ms",
        )
    return ProbeResult(
        Status.PASS, f"{what} in {millis:g} ms", observed_value=millis, observed_unit="ms"
    )


def _error_text(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


async def probe_mysql(
    target: str, module: ProbeConfig, registry: Recorder, logger: logging.Logger
) -> ProbeResult:
    """Connect and ``SELECT 1``: the database answers queries, not just the port."""
    import aiomysql
    import pymysql

    started = time.perf_counter()
    try:
        connection = await aiomysql.connect(
            host=module.host,
            port=module.port,
            user=module.user,
            password=module.password or "",
            db=module.database,
            connect_timeout=module.timeout,
            autocommit=True,
        )
    except (pymysql.err.Error, OSError) as exc:
        return _failed(logger, module, f"cannot connect to {target}: {_error_text(exc)}", exc)
    try:
        async with connection.cursor() as cursor:
            await cursor.execute("SELECT 1")
            row = await cursor.fetchone()
        if row != (1,):
            return _failed(logger, module, f"SELECT 1 returned {row!r}")
    except (pymysql.err.Error, OSError) as exc:
        return _failed(logger, module, f"SELECT 1 failed: {_error_text(exc)}", exc)
    finally:
        connection.close()
    return _timed(module, started, "SELECT 1")


async def probe_redis(
    target: str, module: ProbeConfig, registry: Recorder, logger: logging.Logger
) -> ProbeResult:
    """PING, then set/get/delete our own key: the cache both answers and stores."""
    import redis.asyncio as aioredis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
    from redis.exceptions import RedisError

    started = time.perf_counter()
    # No redis-py retries: its defaults retry for seconds, hiding the failure we report.
    client = aioredis.Redis(
        host=module.host,
        port=module.port,
        db=module.db,
        username=module.user,
        password=module.password,
        socket_timeout=module.timeout,
        socket_connect_timeout=module.timeout,
        retry=Retry(NoBackoff(), 0),
        single_connection_client=True,
    )
    value = secrets.token_hex(8)
    try:
        await client.ping()
        await client.set(module.key, value, px=max(1, int(module.timeout * 1000)) * 2)
        read = await client.get(module.key)
        await client.delete(module.key)
    except (RedisError, OSError) as exc:
        return _failed(logger, module, f"redis at {target}: {_error_text(exc)}", exc)
    finally:
        await client.aclose()
    if read != value.encode():
        return _failed(logger, module, f"redis at {target}: read back {read!r}, wrote {value!r}")
    return _timed(module, started, "PING and set/get/delete")


async def probe_http(
    target: str, module: ProbeConfig, registry: Recorder, logger: logging.Logger
) -> ProbeResult:
    """One request to an external API: expected status, then latency."""
    import aiohttp

    started = time.perf_counter()
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                module.method, module.url, headers=dict(module.headers), allow_redirects=False
            ) as response,
        ):
            status = response.status
    except (aiohttp.ClientError, OSError) as exc:
        return _failed(logger, module, f"{module.method} {target}: {_error_text(exc)}", exc)
    registry.observe(Observation(semconv.PROBE_HTTP_STATUS_CODE, status))
    expected = module.expected_status
    if (status not in expected) if expected else not 200 <= status < 300:
        wanted = ", ".join(map(str, expected)) if expected else "2xx"
        return _failed(
            logger, module, f"{module.method} {target}: status {status}, expected {wanted}"
        )
    return _timed(module, started, f"{module.method} {target} answered {status}")


async def probe_discord(
    target: str, module: ProbeConfig, registry: Recorder, logger: logging.Logger
) -> ProbeResult:
    """Discord's REST API is reachable and accepts the bot's token (``/users/@me``)."""
    if not module.token:
        return ProbeResult(Status.SKIP, "skipped: no bot token configured (set DISCORD_TOKEN)")
    import aiohttp

    started = time.perf_counter()
    headers = {"Authorization": f"Bot {module.token}"}
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{target}/users/@me", headers=headers, allow_redirects=False) as response,
        ):
            status = response.status
            body: Any = await response.json(content_type=None) if status == 200 else None
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        return _failed(logger, module, f"Discord API at {target}: {_error_text(exc)}", exc)
    registry.observe(Observation(semconv.PROBE_HTTP_STATUS_CODE, status))
    if status in (401, 403):
        return _failed(logger, module, f"token rejected ({status})")
    if status == 429:
        return ProbeResult(Status.WARN, "rate limited (429): token not checked")
    if status != 200:
        return _failed(logger, module, f"Discord API at {target}: status {status}")
    user = body.get("username", "?") if isinstance(body, dict) else "?"
    return _timed(module, started, f"token accepted for {user}")


@dataclass(frozen=True)
class HostReadings:
    """Ratios 0-1; read in a thread because psutil's calls block."""

    memory: float
    cpu: float
    disk: float


# psutil.cpu_percent(interval=None) measures from the previous call *in the same thread*
# and reads a meaningless 0 % on a thread's first call.
CPU_PRIME_SECONDS = 0.1
_cpu_primed = threading.local()


def read_host(path: str) -> HostReadings:
    """Memory, CPU since this thread's previous call, disk use at ``path``.

    A thread's first call samples the CPU for ``CPU_PRIME_SECONDS`` (blocking) instead
    of returning psutil's unprimed 0 %; later calls never sleep.
    """
    import psutil

    interval = None if getattr(_cpu_primed, "done", False) else CPU_PRIME_SECONDS
    cpu = psutil.cpu_percent(interval=interval)
    _cpu_primed.done = True
    return HostReadings(
        memory=psutil.virtual_memory().percent / 100,
        cpu=cpu / 100,
        disk=psutil.disk_usage(path).percent / 100,
    )


# Tests inject readings here; production reads psutil.
HostReader = Callable[[str], HostReadings]
host_reader: HostReader = read_host

# One thread for every host read, so each CPU reading covers the time since the previous
# one (asyncio.to_thread may pick a different worker, with its own psutil baseline).
_HOST_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dbsbm-agent-host")

_HOST_MEASUREMENTS = {
    "memory": "memoryUtilization",
    "cpu": "cpuUtilization",
    "disk": "diskUtilization",
}


async def probe_host(
    target: str, module: ProbeConfig, registry: Recorder, logger: logging.Logger
) -> ProbeResult:
    """Memory, CPU and disk against the warn/fail ratios (80 % / 90 % by default)."""
    try:
        readings = await asyncio.get_running_loop().run_in_executor(
            _HOST_THREAD, host_reader, target
        )
    except OSError as exc:
        return _failed(logger, module, f"cannot read host resources: {_error_text(exc)}", exc)
    worst = Status.PASS
    notes = []
    for resource, measurement in _HOST_MEASUREMENTS.items():
        ratio: float = getattr(readings, resource)
        percent = round(ratio * 100, 1)
        if ratio >= module.fail_ratio:
            status, limit = Status.FAIL, module.fail_ratio
        elif ratio >= module.warn_ratio:
            status, limit = Status.WARN, module.warn_ratio
        else:
            status, limit = Status.PASS, None
        output = f"{resource} {percent:g} %" + (
            f", at or above {limit * 100:g} %" if limit is not None else ""
        )
        if status is not Status.PASS:
            notes.append(output)
            if worst is not Status.FAIL:
                worst = status
        registry.observe(
            Observation(
                semconv.PROBE_HOST_UTILIZATION,
                ratio,
                {semconv.PROBE_HOST_RESOURCE: resource},
                measurement=measurement,
                observed_value=percent,
                observed_unit="percent",
                status=status,
                output=output,
            )
        )
    if worst is Status.FAIL:
        logger.warning(
            "probe failed: %s",
            "; ".join(notes),
            extra={"probe": module.name, "probe_kind": module.kind},
        )
    return ProbeResult(
        worst,
        "; ".join(notes) or f"memory, CPU and disk below {module.warn_ratio * 100:g} %",
        measurement="utilization",
    )


PROBERS: dict[str, Prober] = {
    "mysql": probe_mysql,
    "redis": probe_redis,
    "http": probe_http,
    "discord": probe_discord,
    "host": probe_host,
}
