"""HTTP endpoints: /livez, /readyz, /health (application/health+json) and /report.

- ``/livez``: the agent itself (its loops are running and on time). It never looks at
  probe results, so a dead Redis can never get the agent restarted.
- ``/readyz``: can the bot work? 200 unless a required probe fails (or none ran yet).
- ``/health``: draft-inadarei-api-health-check; ``checks`` keyed ``name:measurement``.
  Skipped probes are listed in ``notes``: the draft has no "skip" status.
- ``/report``: per-probe statistics (runs, success ratio, average duration, last status).

:func:`serve` runs them, and the probes, until SIGTERM or SIGINT; SIGHUP reloads.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from dbsbm_instrumentation.version import __version__

from .config import AgentConfig, ConfigError, load_config
from .probers import KINDS
from .probers.base import ProbeResult, Status
from .scheduler import Scheduler, instrument

HEALTH_JSON = "application/health+json"

logger = logging.getLogger("dbsbm_agent")


class Agent:
    """Owns the running scheduler and swaps it when the configuration is reloaded."""

    def __init__(self, config: AgentConfig) -> None:
        self.config = config
        self.scheduler = Scheduler(config)

    def start(self) -> None:
        self.scheduler.start()

    async def stop(self) -> None:
        await self.scheduler.stop()

    async def reload(self, load: Callable[[str], AgentConfig] = load_config) -> bool:
        """Re-read the file (SIGHUP); on error keep probing with the old configuration."""
        try:
            config = load(self.config.source)
        except ConfigError as exc:
            logger.error("configuration reload failed: %s", exc)
            self.scheduler.config_reload_successful = False
            return False
        await self.scheduler.stop()
        self.config, self.scheduler = config, Scheduler(config)
        self.scheduler.start()
        logger.info("configuration reloaded", extra={"probes": list(config.probes)})
        return True


def health_document(scheduler: Scheduler) -> dict[str, Any]:
    """The draft's response body, built from the latest results."""
    checks: dict[str, list[dict[str, Any]]] = {}
    notes = []
    for name in scheduler.config.order:
        result = scheduler.results.get(name)
        if result is None:
            notes.append(f"{name}: not run yet")
            continue
        if result.status is Status.SKIP:
            notes.append(f"{name}: {result.output}")
            continue
        probe = scheduler.config.probes[name]
        base = {
            "componentId": probe.target,
            "componentType": KINDS[probe.kind].component_type,
            "time": _iso(result.time),
        }
        measured = [o for o in result.observations if o.measurement]
        for observation in measured:
            checks.setdefault(f"{name}:{observation.measurement}", []).append(
                {
                    **base,
                    "observedValue": observation.observed_value,
                    "observedUnit": observation.observed_unit,
                    "status": str(observation.status),
                    "output": observation.output,
                }
            )
        if not measured:
            entry: dict[str, Any] = {**base, "status": str(result.status), "output": result.output}
            if result.observed_value is not None:
                entry |= {
                    "observedValue": result.observed_value,
                    "observedUnit": result.observed_unit,
                }
            checks.setdefault(f"{name}:{result.measurement}", []).append(entry)
    document: dict[str, Any] = {
        "status": str(scheduler.overall_status()),
        "version": "1",
        "releaseId": __version__,
        "serviceId": "dbsbm-agent",
        "description": "what the DBSBM bot depends on",
        "checks": checks,
    }
    if notes:
        document["notes"] = notes
    return document


def report_document(scheduler: Scheduler) -> dict[str, Any]:
    probes = {}
    for name in scheduler.config.order:
        stats = scheduler.stats[name]
        last: ProbeResult | None = scheduler.results.get(name)
        probe = scheduler.config.probes[name]
        probes[name] = {
            "kind": probe.kind,
            "target": probe.target,
            "required": probe.required,
            "depends_on": list(probe.depends_on),
            "interval_seconds": probe.interval,
            "timeout_seconds": probe.timeout,
            "runs": stats.runs,
            "successes": stats.successes,
            "skipped": stats.skipped,
            "success_ratio": round(stats.successes / stats.runs, 4) if stats.runs else None,
            "average_response_time_ms": round(stats.total_duration / stats.runs * 1000, 3)
            if stats.runs
            else None,
            "consecutive_failures": stats.consecutive_failures,
            "last_status": str(last.status) if last else None,
            "last_output": last.output if last else None,
            "last_time": _iso(last.time) if last else None,
        }
    return {
        "status": str(scheduler.overall_status()),
        "started_at": _iso(scheduler.started_at),
        "generated_at": _iso(datetime.now(UTC)),
        "probes": probes,
    }


def create_app(agent: Agent) -> web.Application:
    async def livez(_: web.Request) -> web.Response:
        problems = agent.scheduler.liveness()
        return web.json_response(
            {"status": "fail" if problems else "pass", "problems": problems},
            status=503 if problems else 200,
        )

    async def readyz(_: web.Request) -> web.Response:
        failing = agent.scheduler.failing_required()
        return web.json_response(
            {"status": "fail" if failing else "pass", "failing": failing},
            status=503 if failing else 200,
        )

    async def health(_: web.Request) -> web.Response:
        document = health_document(agent.scheduler)
        return web.json_response(
            document, content_type=HEALTH_JSON, status=503 if document["status"] == "fail" else 200
        )

    async def report(_: web.Request) -> web.Response:
        return web.json_response(report_document(agent.scheduler))

    app = web.Application()
    app.router.add_get("/livez", livez)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/health", health)
    app.router.add_get("/report", report)
    return app


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def serve(config: AgentConfig, host: str, port: int) -> None:
    """Serve until SIGTERM/SIGINT; the global meter provider receives the gauges."""
    agent = Agent(config)
    instrument(lambda: agent.scheduler)
    runner = web.AppRunner(create_app(agent), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        agent.start()
        logger.info(
            "dbsbm-agent listening",
            extra={"listen": f"{host}:{port}", "probes": list(config.order)},
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGINT, stop.set)
        reloads: set[asyncio.Task[bool]] = set()

        def reload() -> None:
            task = asyncio.create_task(agent.reload())
            reloads.add(task)
            task.add_done_callback(reloads.discard)

        loop.add_signal_handler(signal.SIGHUP, reload)
        await stop.wait()
    finally:
        await agent.stop()
        await runner.cleanup()
