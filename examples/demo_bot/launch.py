"""The demo launcher (``scripts/demo.sh``): the whole stack on loopback, no Docker.

Starts, in order: redis-server, MariaDB (a data directory under ``.demo/``), a Discord
webhook stand-in (unless ``DISCORD_ALERT_WEBHOOK_URL`` names a real one), Alertmanager
on the generated configuration, Prometheus (``deploy/prometheus/prometheus.yml`` with the
remote-write receiver, an ``alerting:`` section naming that Alertmanager, and its scrape
targets on loopback, where the shipped file names compose hosts), a file-sink
collector standing in for Tempo and Loki (``devstack/otelcol-sink.yml``, writing to
``.demo/telemetry/``), our collector running ``deploy/otel-collector/otelcol-config.yml``
unchanged (its endpoints come from the environment), the health agent, and the demo bot
under ``opentelemetry-instrument``. Ctrl-C (or ``--duration``) stops them in reverse order.
Every :data:`STATUS_INTERVAL` seconds it prints ``dbsbm-status``: the targets, the error
budget and the alerts pending or firing, the light stack's view without Grafana.

The services come from ``devstack/``, as the tests' do, always as local processes and on
the usual ports when those are free, so the printed URLs stay the same run after run.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dbsbm_agent import status
from dbsbm_instrumentation import semconv
from devstack.alertmanager import (
    ROLE_ENV,
    WEBHOOK_ENV,
    alertmanager_process,
    prometheus_config,
    render_config,
)
from devstack.collector import (
    COLLECTOR_CONFIG,
    SINK_CONFIG,
    CollectorPorts,
    collector_binary,
    collector_process,
    validate_config,
)
from devstack.discord_webhook import discord_webhook_process, webhook_url
from devstack.mysql import MYSQL_USER, mariadb_process
from devstack.process import (
    LOOPBACK,
    REPO,
    DevStackError,
    Process,
    SetupError,
    http_ok,
    pick_port,
    require_binary,
)
from devstack.prometheus import prometheus_process
from devstack.redis import redis_process
from examples.demo_bot.settings import TEST_SECRET, OneLineParser

AGENT_CONFIG = REPO / "examples/demo_bot/agent.yaml"
MYSQL_DB = "dbsbm"
STATUS_INTERVAL = 60.0  # seconds between two dbsbm-status reports


def shown(path: Path) -> str:
    """``path`` relative to the repository when inside it (shorter to print)."""
    try:
        return str(path.relative_to(REPO))
    except ValueError:
        return str(path)


def _collector_ports(grpc: int, http: int, health: int) -> CollectorPorts:
    return CollectorPorts(pick_port(grpc), pick_port(http), pick_port(health))


@dataclass
class Ports:
    redis: int = field(default_factory=lambda: pick_port(16379))
    mysql: int = field(default_factory=lambda: pick_port(13306))
    prometheus: int = field(default_factory=lambda: pick_port(9090))
    collector: CollectorPorts = field(default_factory=lambda: _collector_ports(4317, 4318, 13133))
    sink: CollectorPorts = field(default_factory=lambda: _collector_ports(14317, 14318, 13134))
    agent: int = field(default_factory=lambda: pick_port(9464))
    bot_api: int = field(default_factory=lambda: pick_port(8098))
    bot_control: int = field(default_factory=lambda: pick_port(8099))
    alertmanager: int = field(default_factory=lambda: pick_port(9093))
    discord: int = field(default_factory=lambda: pick_port(9094))


class Demo:
    """Builds the processes of the stack; :meth:`run` starts, watches and stops them."""

    def __init__(self, workdir: Path, rate: float) -> None:
        self.workdir = workdir
        self.rate = rate
        self.ports = Ports()
        self.logs = workdir / "logs"
        self.telemetry = workdir / "telemetry"
        self.processes: list[Process] = []

    def _dir(self, name: str) -> Path:
        path = self.workdir / name
        path.mkdir(exist_ok=True)
        return path

    def redis(self) -> Process:
        return redis_process(self._dir("redis"), self.ports.redis, self.logs)

    def mariadb(self, password: str) -> Process:
        # The data directory is kept between runs; the password is this run's.
        return mariadb_process(
            self._dir("mysql"),
            self.ports.mysql,
            password=password,
            database=MYSQL_DB,
            log_dir=self.logs,
        )

    def prometheus_file(self) -> Path:
        """The deployed config with an ``alerting:`` section naming the demo's Alertmanager
        and its scrape targets on this run's loopback ports.

        The deployed file names the collector by its compose host, which resolves only
        there: here ``up`` of the collector would be 0 and its own metrics missing.
        """
        path = prometheus_config(self.workdir / "prometheus.yml", self.ports.alertmanager)
        config: dict[str, Any] = yaml.safe_load(path.read_text())
        targets = {
            "prometheus": self.ports.prometheus,
            "otel-collector": self.ports.collector.telemetry,
        }
        for job in config["scrape_configs"]:
            job["static_configs"] = [{"targets": [f"{LOOPBACK}:{targets[job['job_name']]}"]}]
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return path

    def prometheus(self) -> Process:
        path = self.prometheus_file()
        return prometheus_process(self._dir("prometheus"), self.ports.prometheus, path, self.logs)

    def discord_webhook(self) -> Process | None:
        """The Discord stand-in, unless a real webhook is configured."""
        if os.environ.get(WEBHOOK_ENV):
            return None
        return discord_webhook_process(self.ports.discord, self.logs / "discord-webhook.log")

    def alertmanager(self) -> Process:
        url = os.environ.get(WEBHOOK_ENV) or webhook_url(self.ports.discord)
        workdir = self._dir("alertmanager")
        config = render_config(workdir / "config", url, os.environ.get(ROLE_ENV, ""))
        return alertmanager_process(workdir, self.ports.alertmanager, config, self.logs)

    def main_collector_env(self) -> dict[str, str]:
        sink = self.ports.sink
        return {
            **self.ports.collector.env,
            "PROMETHEUS_REMOTE_WRITE_URL": f"http://{LOOPBACK}:{self.ports.prometheus}/api/v1/write",
            # Tempo takes OTLP/gRPC, Loki OTLP/HTTP: here both go to the file sink.
            "TEMPO_OTLP_ENDPOINT": f"http://{LOOPBACK}:{sink.otlp_grpc}",
            "LOKI_OTLP_ENDPOINT": f"http://{LOOPBACK}:{sink.otlp_http}",
        }

    def collector(self, otelcol: Path) -> Process:
        return collector_process(
            otelcol,
            [COLLECTOR_CONFIG],
            self.workdir,
            self.ports.collector,
            self.main_collector_env(),
            log_dir=self.logs,
        )

    def sink(self, otelcol: Path) -> Process:
        self.telemetry.mkdir(exist_ok=True)
        return collector_process(
            otelcol,
            [SINK_CONFIG],
            self.workdir,
            self.ports.sink,
            {"SINK_DIR": str(self.telemetry)},
            name="otelcol-sink",
            log_dir=self.logs,
        )

    def otel_env(self, service: str) -> dict[str, str]:
        return {
            "OTEL_SERVICE_NAME": service,
            "OTEL_PYTHON_DISTRO": "dbsbm",
            # contrib's aiohttp-client emits http.client.request.duration only with this.
            "OTEL_SEMCONV_STABILITY_OPT_IN": "http",
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{LOOPBACK}:{self.ports.collector.otlp_http}",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_METRIC_EXPORT_INTERVAL": "10000",
            "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment.name=demo",
            "DBSBM_ENV": "production",
        }

    def agent_config(self) -> dict[str, Any]:
        """``examples/demo_bot/agent.yaml`` probing this run's sports API."""
        config: dict[str, Any] = yaml.safe_load(AGENT_CONFIG.read_text())
        config["probes"]["sports_api"]["url"] = (
            f"http://{LOOPBACK}:{self.ports.bot_api}/v3/fixtures?league=39"
        )
        return config

    def agent(self, password: str) -> Process | None:
        agent_bin = shutil.which("dbsbm-agent")
        if agent_bin is None:
            return None
        rendered = self.workdir / "agent.yaml"
        rendered.write_text(yaml.safe_dump(self.agent_config(), sort_keys=False))
        port = self.ports.agent
        return Process(
            "agent",
            [agent_bin, "--config", str(rendered), "--listen", f"{LOOPBACK}:{port}"],
            lambda: http_ok(f"http://{LOOPBACK}:{port}/livez"),
            self.logs / "agent.log",
            {
                **self.otel_env("dbsbm-agent"),
                **self.mysql_env(password),
                "REDIS_URL": f"redis://{LOOPBACK}:{self.ports.redis}/0",
                "API_SPORTS_KEY": TEST_SECRET,  # the demo's fake API accepts only its test key
            },
        )

    def mysql_env(self, password: str) -> dict[str, str]:
        return {
            "MYSQL_HOST": LOOPBACK,
            "MYSQL_PORT": str(self.ports.mysql),
            "MYSQL_USER": MYSQL_USER,
            "MYSQL_PASSWORD": password,
            "MYSQL_DB": MYSQL_DB,
        }

    def bot(self, password: str) -> Process:
        control = self.ports.bot_control
        instrument = require_binary(
            "opentelemetry-instrument", "this repository (pip install -e '.[test]')"
        )
        return Process(
            "demo-bot",
            [instrument, sys.executable, "-m", "examples.demo_bot"],
            lambda: http_ok(f"http://{LOOPBACK}:{control}/status"),
            self.logs / "demo-bot.log",
            {
                **self.otel_env("dbsbm-demo-bot"),
                **self.mysql_env(password),
                "REDIS_HOST": LOOPBACK,
                "REDIS_PORT": str(self.ports.redis),
                "DEMO_API_PORT": str(self.ports.bot_api),
                "DEMO_CONTROL_PORT": str(control),
                "DEMO_RATE": str(self.rate),
                "PYTHONUNBUFFERED": "1",
            },
        )

    def start_all(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        otelcol = collector_binary()
        validate_config(otelcol, COLLECTOR_CONFIG, self.main_collector_env())
        if not SINK_CONFIG.is_file():
            raise SetupError(f"sink collector config not found: {shown(SINK_CONFIG)}")
        password = secrets.token_urlsafe(18)
        steps: list[Callable[[], Process | None]] = [
            self.redis,
            lambda: self.mariadb(password),
            self.discord_webhook,
            self.alertmanager,
            self.prometheus,
            lambda: self.sink(otelcol),
            lambda: self.collector(otelcol),
            lambda: self.bot(password),
            lambda: self.agent(password),
        ]
        for step in steps:
            process = step()
            if process is None:
                continue
            print(f"demo: starting {process.name}", flush=True)
            self.processes.append(process)
            process.start()

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            if process.exited() is None:
                print(f"demo: stopping {process.name}", flush=True)
            process.stop()

    def summary(self) -> str:
        p = self.ports
        calls = semconv.SPAN_CALLS.prometheus
        command = semconv.DISCORD_COMMAND_DURATION.prometheus
        db = semconv.DB_OPERATION_DURATION.prometheus
        http = semconv.HTTP_CLIENT_DURATION.prometheus
        cache = semconv.CACHE_OPERATIONS.prometheus
        name = semconv.label(semconv.DISCORD_COMMAND_NAME)
        result = semconv.label(semconv.CACHE_RESULT)
        names = [proc.name for proc in self.processes]
        discord = (
            f"Discord stand-in (messages: {shown(self.logs)}/discord-webhook.log)"
            if "discord-webhook" in names
            else f"${WEBHOOK_ENV}"
        )
        agent = (
            f"  Agent health   http://{LOOPBACK}:{p.agent}/health  (/livez /readyz /report)\n"
            if "agent" in names
            else "  Agent          not running (dbsbm-agent not installed)\n"
        )
        return (
            "\ndbsbm demo is running; Ctrl-C stops everything. Logs: "
            f"{shown(self.logs)}/\n"
            f"  Prometheus     http://{LOOPBACK}:{p.prometheus}  (metrics arrive every ~10 s)\n"
            f"    sum by (service_name, span_name) (rate({calls}[1m]))\n"
            f"    sum by ({name}) (rate({command}_count[1m]))\n"
            f"    histogram_quantile(0.95, sum by (le) (rate({db}_bucket[5m])))\n"
            f"    histogram_quantile(0.95, sum by (le, server_address) (rate({http}_bucket[5m])))\n"
            f"    sum by ({result}) (rate({cache}[5m]))\n"
            f"  Alerts         Alertmanager http://{LOOPBACK}:{p.alertmanager} -> {discord}\n"
            f"  Traces, logs   {shown(self.telemetry)}/ (a file-sink collector stands "
            "in for Tempo and Loki; use docker compose for Grafana)\n"
            f"{agent}"
            f"  Collector      OTLP grpc {LOOPBACK}:{p.collector.otlp_grpc}, "
            f"http {LOOPBACK}:{p.collector.otlp_http}; "
            f"health http://{LOOPBACK}:{p.collector.health}/\n"
            f"  Faults         curl -X POST http://{LOOPBACK}:{p.bot_control}/faults "
            '-d \'{"slow_db": 0.3, "api_error_rate": 0.2, "command_error_rate": 0.05}\'\n'
            f"                 curl -X POST http://{LOOPBACK}:{p.bot_control}/faults/reset\n"
            f"                 curl -X POST 'http://{LOOPBACK}:{p.bot_control}/redis/pause?seconds=30'\n"
            f"                 Redis down: kill -STOP / -CONT "
            f"{self._pid('redis')} (redis-server)\n"
        )

    def _pid(self, name: str) -> str:
        for process in self.processes:
            if process.name == name and process.pid is not None:
                return str(process.pid)
        return "?"

    def status(self) -> str:
        """``dbsbm-status`` of this run's Prometheus, or one line saying why there is none."""
        url = f"http://{LOOPBACK}:{self.ports.prometheus}"
        try:
            return f"\ndemo: dbsbm-status\n{status.report(status.Prometheus(url))}\n"
        except status.PrometheusError as exc:
            return f"demo: dbsbm-status: {exc}"

    def run(self, duration: float) -> int:
        stop_reason: list[str] = []

        def on_signal(signum: int, _frame: object) -> None:
            stop_reason.append(signal.Signals(signum).name)

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        try:
            self.start_all()
            print(self.summary(), flush=True)
            deadline = time.monotonic() + duration if duration else None
            next_status = time.monotonic() + STATUS_INTERVAL
            while not stop_reason:
                if time.monotonic() >= next_status:
                    print(self.status(), flush=True)
                    next_status += STATUS_INTERVAL
                for process in self.processes:
                    code = process.exited()
                    if code is not None:
                        print(
                            f"demo: {process.name} exited with code {code}; its log "
                            f"({process.log_path}):\n{process.log_tail()}",
                            file=sys.stderr,
                        )
                        return 1
                if deadline is not None and time.monotonic() >= deadline:
                    print(f"demo: {duration:g} s elapsed", flush=True)
                    break
                time.sleep(0.5)
            return 0
        except DevStackError as exc:
            print(f"demo: {exc}", file=sys.stderr)
            return 2 if isinstance(exc, SetupError) else 1
        finally:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut cleanup
            self.stop_all()


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="scripts/demo.sh", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--duration",
        type=float,
        default=0.0,
        help="stop after this many seconds (default: run until Ctrl-C)",
    )
    parser.add_argument("--rate", type=float, default=4.0, help="demo commands per second")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=REPO / ".demo",
        help="where data, logs and telemetry files go (default: .demo/)",
    )
    args = parser.parse_args(argv)
    if args.duration < 0 or args.rate <= 0:
        parser.error("--duration must be >= 0 and --rate > 0")
    args.workdir.mkdir(parents=True, exist_ok=True)
    return Demo(args.workdir.resolve(), args.rate).run(args.duration)


if __name__ == "__main__":
    raise SystemExit(main())
