"""``dbsbm-agent --config FILE [--listen HOST:PORT] [--check-config]``.

Bad input ends with one line on stderr and exit code 2, never a traceback. SIGTERM and
SIGINT stop the agent; SIGHUP reloads the configuration file (a bad file is logged, the
old configuration keeps running and ``dbsbm.agent.config.last_reload_successful``
drops to 0).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Sequence
from typing import NoReturn

from .config import AgentConfig, ConfigError, load_config, parse_listen

logger = logging.getLogger("dbsbm_agent")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line instead of argparse's usage block."""
        self.exit(2, f"{self.prog}: error: {message}\n")


SERVICE_NAME = "dbsbm-agent"


def main(argv: Sequence[str] | None = None) -> int:
    parser = _Parser(
        prog="dbsbm-agent", description="Probe what the DBSBM bot depends on and serve the results."
    )
    parser.add_argument("--config", required=True, metavar="FILE", help="agent YAML file")
    parser.add_argument(
        "--listen",
        metavar="HOST:PORT",
        help="address for /livez /readyz /health /report "
        "(default: the file's 'listen', else 127.0.0.1:9464)",
    )
    parser.add_argument(
        "--check-config",
        action="store_true",
        help="validate the file and the environment, then exit",
    )
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
        host, port = parse_listen(
            args.listen or config.listen,
            lambda message: (
                ConfigError(f"dbsbm-agent: error: --listen: {message}")
                if args.listen
                else ConfigError(f"config error: {config.source}: listen: {message}")
            ),
        )
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.check_config:
        print(
            f"config ok: {config.source}: {len(config.probes)} probes ({', '.join(config.order)})"
        )
        return 0

    # Imported here, as the server is in serve(): --check-config and bad input need
    # neither, and answer sooner without them.
    import asyncio

    from dbsbm_instrumentation.bootstrap import configure_telemetry
    from dbsbm_instrumentation.logs import configure_logging

    # OTEL_SERVICE_NAME names this agent when set (one per bot); "dbsbm-agent" otherwise.
    service_name = os.environ.get("OTEL_SERVICE_NAME") or SERVICE_NAME
    configure_logging(service_name=service_name)
    telemetry = configure_telemetry(service_name=service_name, logs=True, system_metrics=False)
    try:
        asyncio.run(serve(config, host, port))
    except OSError as exc:
        print(
            f"dbsbm-agent: error: cannot listen on {host}:{port}: {exc.strerror}", file=sys.stderr
        )
        return 1
    finally:
        telemetry.shutdown(timeout_s=5)
    return 0


async def serve(config: AgentConfig, host: str, port: int) -> None:
    """Serve until SIGTERM/SIGINT; the global meter provider receives the gauges."""
    import asyncio

    from aiohttp import web

    from .scheduler import instrument
    from .server import Agent, create_app

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


if __name__ == "__main__":
    sys.exit(main())
