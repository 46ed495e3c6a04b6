"""``dbsbm-agent --config FILE [--listen HOST:PORT] [--check-config]``.

Bad input ends with one line on stderr and exit code 2, never a traceback. SIGTERM and
SIGINT stop the agent; SIGHUP reloads the configuration file (a bad file is logged, the
old configuration keeps running and ``dbsbm.agent.config.last_reload_successful``
drops to 0).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from .config import ConfigError, load_config, parse_listen


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

    # Imported here: --check-config and bad input need none of it, and answer sooner.
    # The server is imported before telemetry is configured: in that order the agent
    # keeps less memory resident (benchmarks/bench_agent.py).
    import asyncio

    from dbsbm_instrumentation.bootstrap import configure_telemetry
    from dbsbm_instrumentation.logs import configure_logging

    from .server import serve

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


if __name__ == "__main__":
    sys.exit(main())
