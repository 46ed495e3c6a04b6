"""The demo launcher (``scripts/demo.sh``): the whole stack on loopback, no Docker.

Starts, in order: redis-server, MariaDB (a data directory under ``.demo/``), Prometheus
(``deploy/prometheus/prometheus.yml`` with the remote-write receiver), a file-sink
collector standing in for Tempo and Loki (``tests/deploy/otelcol-sink.yml``, writing to
``.demo/telemetry/``), our collector running ``deploy/otel-collector/otelcol-config.yml``
unchanged (its endpoints come from the environment), the health agent, and the demo bot
under ``opentelemetry-instrument``. Ctrl-C (or ``--duration``) stops them in reverse order.

Self-contained on purpose: product code does not import ``tests/``.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from dbsbm_instrumentation import semconv
from examples.demo_bot.settings import TEST_SECRET, OneLineParser

REPO = Path(__file__).resolve().parents[2]
LOOPBACK = "127.0.0.1"
COLLECTOR_CONFIG = REPO / "deploy/otel-collector/otelcol-config.yml"
SINK_CONFIG = REPO / "tests/deploy/otelcol-sink.yml"
PROMETHEUS_CONFIG = REPO / "deploy/prometheus/prometheus.yml"
AGENT_CONFIG = REPO / "examples/demo_bot/agent.yaml"
MYSQL_USER, MYSQL_DB = "dbsbm", "dbsbm"


class LaunchError(Exception):
    """A process of the stack failed to start; the message says which and shows its log."""


class SetupError(LaunchError):
    """Something the demo needs is missing or invalid (a binary, a config): exit code 2."""


def port_free(port: int) -> bool:
    with socket.socket() as s:
        # As servers bind: a port in TIME_WAIT from the last run is free to reuse.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def pick_port(preferred: int) -> int:
    """The usual port when it is free (stable URLs to print), else any free one."""
    if port_free(preferred):
        return preferred
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def port_open(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=0.3):
            return True
    except OSError:
        return False


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(200 <= response.status < 300)
    except (urllib.error.URLError, OSError):
        return False


def shown(path: Path) -> str:
    """``path`` relative to the repository when inside it (shorter to print)."""
    try:
        return str(path.relative_to(REPO))
    except ValueError:
        return str(path)


def binary(name: str) -> str:
    path = shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.access(p, os.X_OK)), None
    )
    if path is None:
        raise SetupError(
            f"{name} not found: run scripts/install-deps.sh (or scripts/demo.sh "
            "without --no-install)"
        )
    return path


@dataclass
class Process:
    """A child in its own process group, so stopping it stops everything it started."""

    name: str
    argv: list[str]
    log_path: Path
    ready: Callable[[], bool]
    env: dict[str, str] = field(default_factory=dict)
    start_timeout: float = 60.0
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.popen = subprocess.Popen(
                self.argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **self.env},
                cwd=REPO,
                start_new_session=True,
            )
        deadline = time.monotonic() + self.start_timeout
        while not self.ready():
            if self.popen.poll() is not None:
                raise LaunchError(
                    f"{self.name} exited with code {self.popen.returncode} while "
                    f"starting; its log ({self.log_path}):\n{self.log_tail()}"
                )
            if time.monotonic() > deadline:
                raise LaunchError(
                    f"{self.name} was not ready after {self.start_timeout:.0f} s; "
                    f"its log ({self.log_path}):\n{self.log_tail()}"
                )
            time.sleep(0.1)

    def exited(self) -> int | None:
        return None if self.popen is None else self.popen.poll()

    def stop(self, timeout: float = 15.0) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        try:
            os.killpg(self.popen.pid, signal.SIGTERM)
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=5)
        except ProcessLookupError:
            pass

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


def collector_binary() -> str:
    if os.environ.get("DBSBM_OTELCOL_BIN"):
        return os.environ["DBSBM_OTELCOL_BIN"]
    result = subprocess.run(
        ["bash", str(REPO / "scripts/build-collector.sh"), "--print-path"],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 or not result.stdout.strip():
        tail = "\n".join(result.stderr.splitlines()[-10:])
        raise SetupError(f"building the collector failed (scripts/build-collector.sh):\n{tail}")
    return result.stdout.strip().splitlines()[-1]


def validate_collector_config(otelcol: str, config: Path, env: dict[str, str]) -> None:
    """``otelcol validate`` before anything starts: a broken config is one clear line."""
    if not config.is_file():
        raise SetupError(f"collector config not found: {config}")
    result = subprocess.run(
        [otelcol, "validate", f"--config={config}"],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=False,
    )
    if result.returncode != 0:
        lines = [line for line in (result.stderr + result.stdout).splitlines() if line.strip()]
        reason = lines[-1] if lines else f"exit code {result.returncode}"
        raise SetupError(f"{shown(config)} is invalid: {reason}")


@dataclass
class Ports:
    redis: int = field(default_factory=lambda: pick_port(16379))
    mysql: int = field(default_factory=lambda: pick_port(13306))
    prometheus: int = field(default_factory=lambda: pick_port(9090))
    otlp_grpc: int = field(default_factory=lambda: pick_port(4317))
    otlp_http: int = field(default_factory=lambda: pick_port(4318))
    collector_health: int = field(default_factory=lambda: pick_port(13133))
    sink_grpc: int = field(default_factory=lambda: pick_port(14317))
    sink_http: int = field(default_factory=lambda: pick_port(14318))
    sink_health: int = field(default_factory=lambda: pick_port(13134))
    agent: int = field(default_factory=lambda: pick_port(9464))
    bot_api: int = field(default_factory=lambda: pick_port(8098))
    bot_control: int = field(default_factory=lambda: pick_port(8099))


class Demo:
    """Builds the processes of the stack; :meth:`run` starts, watches and stops them."""

    def __init__(self, workdir: Path, rate: float) -> None:
        self.workdir = workdir
        self.rate = rate
        self.ports = Ports()
        self.logs = workdir / "logs"
        self.telemetry = workdir / "telemetry"
        self.processes: list[Process] = []

    def _process(
        self,
        name: str,
        argv: list[str],
        ready: Callable[[], bool],
        env: dict[str, str] | None = None,
        timeout: float = 60.0,
    ) -> Process:
        return Process(name, argv, self.logs / f"{name}.log", ready, env or {}, timeout)

    def redis(self) -> Process:
        port = self.ports.redis
        (self.workdir / "redis").mkdir(exist_ok=True)
        return self._process(
            "redis",
            [
                binary("redis-server"),
                "--port",
                str(port),
                "--bind",
                LOOPBACK,
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir / "redis"),
            ],
            lambda: port_open(port),
        )

    def mariadb(self, password: str) -> Process:
        base = self.workdir / "mysql"
        datadir = base / "data"
        base.mkdir(exist_ok=True)
        if not (datadir / "mysql").is_dir():
            result = subprocess.run(
                [
                    binary("mariadb-install-db"),
                    f"--datadir={datadir}",
                    "--user=root",
                    "--auth-root-authentication-method=normal",
                    "--skip-test-db",
                ],
                capture_output=True,
                text=True,
                cwd=base,
                check=False,
            )
            if result.returncode != 0:
                raise LaunchError(
                    f"mariadb-install-db failed for {shown(datadir)}:\n"
                    + "\n".join(result.stderr.splitlines()[-10:])
                )
        # Runs at every start: the demo user gets this run's random password. Clients come
        # over TCP to 127.0.0.1 and names are not resolved, so that is the user's host.
        user = f"'{MYSQL_USER}'@'{LOOPBACK}'"
        init = base / "init.sql"
        init.write_text(
            f"CREATE DATABASE IF NOT EXISTS {MYSQL_DB};\n"
            f"CREATE USER IF NOT EXISTS {user};\n"
            f"ALTER USER {user} IDENTIFIED BY '{password}';\n"
            f"GRANT ALL ON {MYSQL_DB}.* TO {user};\n"
        )
        init.chmod(0o600)
        port = self.ports.mysql
        return self._process(
            "mariadb",
            [
                binary("mariadbd"),
                "--no-defaults",
                f"--datadir={datadir}",
                f"--socket={base / 'mysqld.sock'}",
                f"--port={port}",
                f"--bind-address={LOOPBACK}",
                "--user=root",
                f"--init-file={init}",
                f"--pid-file={base / 'mysqld.pid'}",
                "--skip-log-bin",
                "--innodb-buffer-pool-size=64M",
                "--skip-name-resolve",
            ],
            lambda: port_open(port),
            timeout=90,
        )

    def prometheus(self) -> Process:
        port = self.ports.prometheus
        return self._process(
            "prometheus",
            [
                binary("prometheus"),
                f"--config.file={PROMETHEUS_CONFIG}",
                f"--storage.tsdb.path={self.workdir / 'prometheus'}",
                f"--web.listen-address={LOOPBACK}:{port}",
                "--web.enable-remote-write-receiver",
                "--web.enable-lifecycle",
            ],
            lambda: http_ok(f"http://{LOOPBACK}:{port}/-/ready"),
        )

    @staticmethod
    def collector_env(grpc: int, http: int, health: int) -> dict[str, str]:
        return {
            "OTELCOL_OTLP_GRPC_ENDPOINT": f"{LOOPBACK}:{grpc}",
            "OTELCOL_OTLP_HTTP_ENDPOINT": f"{LOOPBACK}:{http}",
            "OTELCOL_HEALTH_ENDPOINT": f"{LOOPBACK}:{health}",
            # The collector pushes its own metrics to its own OTLP HTTP receiver.
            "OTELCOL_SELF_TELEMETRY_ENDPOINT": f"http://{LOOPBACK}:{http}",
        }

    def main_collector_env(self) -> dict[str, str]:
        p = self.ports
        return {
            **self.collector_env(p.otlp_grpc, p.otlp_http, p.collector_health),
            "PROMETHEUS_REMOTE_WRITE_URL": f"http://{LOOPBACK}:{p.prometheus}/api/v1/write",
            # Tempo takes OTLP/gRPC, Loki OTLP/HTTP: here both go to the file sink.
            "TEMPO_OTLP_ENDPOINT": f"http://{LOOPBACK}:{p.sink_grpc}",
            "LOKI_OTLP_ENDPOINT": f"http://{LOOPBACK}:{p.sink_http}",
        }

    def collector(self, otelcol: str) -> Process:
        health = self.ports.collector_health
        return self._process(
            "otelcol",
            [otelcol, f"--config={COLLECTOR_CONFIG}"],
            lambda: http_ok(f"http://{LOOPBACK}:{health}/"),
            self.main_collector_env(),
        )

    def sink(self, otelcol: str) -> Process:
        p = self.ports
        self.telemetry.mkdir(exist_ok=True)
        env = {
            **self.collector_env(p.sink_grpc, p.sink_http, p.sink_health),
            "SINK_DIR": str(self.telemetry),
        }
        return self._process(
            "otelcol-sink",
            [otelcol, f"--config={SINK_CONFIG}"],
            lambda: http_ok(f"http://{LOOPBACK}:{p.sink_health}/"),
            env,
        )

    def otel_env(self, service: str) -> dict[str, str]:
        return {
            "OTEL_SERVICE_NAME": service,
            "OTEL_PYTHON_DISTRO": "dbsbm",
            # contrib's aiohttp-client emits http.client.request.duration only with this.
            "OTEL_SEMCONV_STABILITY_OPT_IN": "http",
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{LOOPBACK}:{self.ports.otlp_http}",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_METRIC_EXPORT_INTERVAL": "10000",
            "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment.name=demo",
            "DBSBM_ENV": "production",
        }

    def agent(self, password: str) -> Process | None:
        agent_bin = shutil.which("dbsbm-agent")
        if agent_bin is None:
            return None
        config = yaml.safe_load(AGENT_CONFIG.read_text())
        config["probes"]["sports_api"]["url"] = (
            f"http://{LOOPBACK}:{self.ports.bot_api}/v3/fixtures?league=39"
        )
        rendered = self.workdir / "agent.yaml"
        rendered.write_text(yaml.safe_dump(config, sort_keys=False))
        port = self.ports.agent
        return self._process(
            "agent",
            [
                agent_bin,
                "--config",
                str(rendered),
                "--listen",
                f"{LOOPBACK}:{port}",
            ],
            lambda: http_ok(f"http://{LOOPBACK}:{port}/livez"),
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
        return self._process(
            "demo-bot",
            [
                binary("opentelemetry-instrument"),
                sys.executable,
                "-m",
                "examples.demo_bot",
            ],
            lambda: http_ok(f"http://{LOOPBACK}:{control}/status"),
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
        validate_collector_config(otelcol, COLLECTOR_CONFIG, self.main_collector_env())
        if not SINK_CONFIG.is_file():
            raise SetupError(f"sink collector config not found: {SINK_CONFIG}")
        password = secrets.token_urlsafe(18)
        steps: list[Callable[[], Process | None]] = [
            self.redis,
            lambda: self.mariadb(password),
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
            f"  Traces, logs   {shown(self.telemetry)}/ (a file-sink collector stands "
            "in for Tempo and Loki; use docker compose for Grafana)\n"
            f"{agent}"
            f"  Collector      OTLP grpc {LOOPBACK}:{p.otlp_grpc}, http {LOOPBACK}:{p.otlp_http}; "
            f"health http://{LOOPBACK}:{p.collector_health}/\n"
            f"  Faults         curl -X POST http://{LOOPBACK}:{p.bot_control}/faults "
            '-d \'{"slow_db": 0.3, "api_error_rate": 0.2, "command_error_rate": 0.05}\'\n'
            f"                 curl -X POST http://{LOOPBACK}:{p.bot_control}/faults/reset\n"
            f"                 curl -X POST 'http://{LOOPBACK}:{p.bot_control}/redis/pause?seconds=30'\n"
            f"                 Redis down: kill -STOP / -CONT "
            f"{self._pid('redis')} (redis-server)\n"
        )

    def _pid(self, name: str) -> str:
        for process in self.processes:
            if process.name == name and process.popen is not None:
                return str(process.popen.pid)
        return "?"

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
            while not stop_reason:
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
        except LaunchError as exc:
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
