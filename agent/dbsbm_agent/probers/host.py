"""``host``: memory, CPU and disk of this machine (or container) against two ratios.

Above ``warn_ratio`` a resource warns (degraded), at or above ``fail_ratio`` it fails.
Each resource is its own /health check and ``probe_host_utilization`` sample. Not
required by default: host pressure degrades the bot without stopping it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from dbsbm_instrumentation import semconv

from .base import (
    InvalidSetting,
    Observation,
    ProbeConfig,
    ProbeKind,
    ProbeResult,
    Recorder,
    Status,
    error_text,
    failed,
    ratio,
    setting,
    string,
)

PROBE_INTERVAL_SECONDS = 60.0
# Host memory, CPU and disk use: above the first a probe warns (degraded), above the
# second it fails (unhealthy).
RESOURCE_WARN_RATIO = 0.80
RESOURCE_FAIL_RATIO = 0.90


@dataclass(frozen=True)
class HostSettings:
    path: str = setting("/", string)  # the disk whose use is read
    warn_ratio: float = setting(RESOURCE_WARN_RATIO, ratio)
    fail_ratio: float = setting(RESOURCE_FAIL_RATIO, ratio)


def _finish(
    settings: HostSettings, given: Mapping[str, Any], environ: Mapping[str, str]
) -> HostSettings:
    if settings.warn_ratio >= settings.fail_ratio:
        raise InvalidSetting(
            "warn_ratio",
            f"must be below fail_ratio ({settings.fail_ratio:g}), got {settings.warn_ratio:g}",
        )
    return settings


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

_MEASUREMENTS = {
    "memory": "memoryUtilization",
    "cpu": "cpuUtilization",
    "disk": "diskUtilization",
}


async def probe_host(
    target: str, module: ProbeConfig[HostSettings], registry: Recorder, logger: logging.Logger
) -> ProbeResult:
    """Memory, CPU and disk against the warn/fail ratios."""
    settings = module.settings
    try:
        readings = await asyncio.get_running_loop().run_in_executor(
            _HOST_THREAD, host_reader, target
        )
    except OSError as exc:
        return failed(logger, module, f"cannot read host resources: {error_text(exc)}", exc)
    worst = Status.PASS
    notes = []
    for resource, measurement in _MEASUREMENTS.items():
        value: float = getattr(readings, resource)
        percent = round(value * 100, 1)
        if value >= settings.fail_ratio:
            status, limit = Status.FAIL, settings.fail_ratio
        elif value >= settings.warn_ratio:
            status, limit = Status.WARN, settings.warn_ratio
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
                value,
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
        "; ".join(notes) or f"memory, CPU and disk below {settings.warn_ratio * 100:g} %",
        measurement="utilization",
    )


KIND = ProbeKind(
    name="host",
    settings=HostSettings,
    prober=probe_host,
    target=lambda s: s.path,
    component_type="system",
    interval=PROBE_INTERVAL_SECONDS,
    finish=_finish,
    instruments=(semconv.PROBE_HOST_UTILIZATION,),
)
