"""Real services for tests: local binaries on loopback, or testcontainers under Docker.

Each service runs on a free 127.0.0.1 port with its own data directory and is torn down
after use. When a Docker engine answers, Redis, MySQL and Prometheus come from
testcontainers, with the image tags docker-compose.yml uses (read from ``.env``); the
collector always runs as a local process: it is the binary built from our manifest, the
same one the compose image is built from, and building that image per test run would add
minutes for no other difference. A missing binary fails the test with a
message naming the package to install when ``CI`` is set, and skips it with that
message otherwise: it never passes silently.
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
LOCALHOST = "127.0.0.1"


def missing(what: str, how: str) -> None:
    """Fail under CI, skip elsewhere, with one message saying how to get ``what``."""
    message = f"{what} is not available: {how}"
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def require_binary(name: str, package: str) -> str:
    path = shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.access(p, os.X_OK)), None
    )
    if path is None:
        missing(name, f"install it with `apt-get install {package}` (see .ci/run)")
    assert path is not None
    return path


@functools.cache
def compose_image(variable: str) -> str:
    """The image tag ``.env`` gives docker-compose.yml, so tests and compose cannot drift."""
    for line in (REPO / ".env").read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() == variable:
            return value.strip()
    raise LookupError(f"{variable} is not set in {REPO / '.env'}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOCALHOST, 0))
        return int(s.getsockname()[1])


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:  # noqa: BLE001 - the service is still coming up
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{what} did not become ready within {timeout:.0f} s")


def port_open(port: int, host: str = LOCALHOST) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - loopback
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError):
        return False


@functools.cache
def docker_available() -> bool:
    """Asked once per session: without an engine ``docker.from_env()`` raises."""
    if os.environ.get("DBSBM_TESTS_NO_DOCKER"):
        return False
    try:
        import docker

        docker.from_env().ping()
        return True
    except Exception:  # noqa: BLE001 - any failure means "no engine here"
        return False


@dataclass
class ProcessService:
    """A server process we own: start, stop, SIGSTOP/SIGCONT, and its log for failures."""

    name: str
    argv: Sequence[str]
    port: int
    ready: Callable[[], bool]
    workdir: Path
    env: dict[str, str] = field(default_factory=dict)
    start_timeout: float = 30.0
    process: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"

    def start(self) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen(
            list(self.argv),
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
            env={**os.environ, **self.env},
            start_new_session=True,
        )
        try:
            wait_for(self._ready_or_dead, self.start_timeout, self.name)
        except TimeoutError as exc:
            self.stop()
            raise RuntimeError(f"{exc}; its log:\n{self.log_tail()}") from None

    def _ready_or_dead(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise TimeoutError(f"{self.name} exited with {self.process.returncode}")
        return self.ready()

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL); a paused one is resumed first."""
        if self.process is None or self.process.poll() is not None:
            return
        os.kill(self.process.pid, signal.SIGCONT)
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

    def kill(self) -> None:
        """Kill abruptly, as a crash would."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=5)

    def pause(self) -> None:
        """SIGSTOP: the port stays open and nothing answers (a hung server)."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


# --- Redis and MySQL: a local process, or a container --------------------------------


@dataclass(kw_only=True)
class ServerService:
    """Stop, start, kill, pause and resume a server the same way whatever runs it."""

    host: str
    port: int
    control: ProcessService | None  # None when a container holds it
    container: Any = None
    start_timeout: float = 30.0

    def _docker(self) -> Any:
        return self.container.get_wrapped_container()

    def stop(self) -> None:
        if self.control:
            self.control.stop()
        else:
            self._docker().stop(timeout=5)

    def kill(self) -> None:
        if self.control:
            self.control.kill()
        else:
            self._docker().kill()

    def start(self) -> None:
        if self.control:
            self.control.start()
        else:
            self._docker().start()
            wait_for(lambda: port_open(self.port, self.host), self.start_timeout, "container")

    def pause(self) -> None:
        """SIGSTOP (``docker pause``): the port stays open and nothing answers."""
        if self.control:
            self.control.pause()
        else:
            self._docker().pause()

    def resume(self) -> None:
        if self.control:
            self.control.resume()
        else:
            self._docker().unpause()

    def close(self) -> None:
        if self.control:
            self.control.stop()
        elif self.container is not None:
            self.container.stop()


@dataclass(kw_only=True)
class RedisService(ServerService):
    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"


def start_redis(workdir: Path) -> RedisService:
    if docker_available():
        from testcontainers.redis import RedisContainer

        # A fixed host port so that stop/start keeps the address the cache knows.
        port = free_port()
        container = RedisContainer(compose_image("REDIS_IMAGE")).with_bind_ports(6379, port)
        container.start()
        return RedisService(host=LOCALHOST, port=port, control=None, container=container)
    binary = require_binary("redis-server", "redis-server")
    port = free_port()
    argv = [
        binary,
        "--port",
        str(port),
        "--bind",
        LOCALHOST,
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(workdir),
        "--protected-mode",
        "no",
    ]
    control = ProcessService("redis", argv, port, lambda: port_open(port), workdir)
    control.start()
    return RedisService(host=LOCALHOST, port=port, control=control)


# --- MariaDB / MySQL --------------------------------------------------------------------


@dataclass(kw_only=True)
class MySQLService(ServerService):
    user: str
    password: str
    database: str

    @property
    def env(self) -> dict[str, str]:
        """DBSBM's variable names, for code that reads its configuration from them."""
        return {
            "MYSQL_HOST": self.host,
            "MYSQL_PORT": str(self.port),
            "MYSQL_USER": self.user,
            "MYSQL_PASSWORD": self.password,
            "MYSQL_DB": self.database,
        }


MYSQL_USER = "dbsbm"
MYSQL_PASSWORD = "dbsbm-test-pw"  # noqa: S105 - a throwaway test server's password
MYSQL_DATABASE = "dbsbm_test"
_MYSQL_ACCOUNT = {"user": MYSQL_USER, "password": MYSQL_PASSWORD, "database": MYSQL_DATABASE}


def start_mysql(workdir: Path) -> MySQLService:
    if docker_available():
        from testcontainers.mysql import MySqlContainer

        port = free_port()
        container = MySqlContainer(
            compose_image("MYSQL_IMAGE"),
            username=MYSQL_USER,
            password=MYSQL_PASSWORD,
            dbname=MYSQL_DATABASE,
        ).with_bind_ports(3306, port)
        container.start()
        return MySQLService(
            host=LOCALHOST,
            port=port,
            control=None,
            container=container,
            start_timeout=60,
            **_MYSQL_ACCOUNT,
        )
    mariadbd = require_binary("mariadbd", "mariadb-server")
    install_db = require_binary("mariadb-install-db", "mariadb-server")
    datadir = workdir / "data"
    socket_path = workdir / "mysqld.sock"
    subprocess.run(
        [
            install_db,
            f"--datadir={datadir}",
            "--user=root",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
        ],
        check=True,
        capture_output=True,
        cwd=workdir,
    )
    init_sql = workdir / "init.sql"
    init_sql.write_text(
        f"CREATE DATABASE IF NOT EXISTS {MYSQL_DATABASE};\n"
        f"CREATE USER IF NOT EXISTS '{MYSQL_USER}'@'%' IDENTIFIED BY '{MYSQL_PASSWORD}';\n"
        f"CREATE USER IF NOT EXISTS '{MYSQL_USER}'@'localhost' IDENTIFIED BY '{MYSQL_PASSWORD}';\n"
        f"GRANT ALL ON *.* TO '{MYSQL_USER}'@'%';\n"
        f"GRANT ALL ON *.* TO '{MYSQL_USER}'@'localhost';\n"
        "FLUSH PRIVILEGES;\n"
    )
    port = free_port()
    argv = [
        mariadbd,
        "--no-defaults",
        f"--datadir={datadir}",
        f"--socket={socket_path}",
        f"--port={port}",
        f"--bind-address={LOCALHOST}",
        "--user=root",
        f"--init-file={init_sql}",
        f"--pid-file={workdir / 'mysqld.pid'}",
        "--skip-log-bin",
        "--innodb-buffer-pool-size=32M",
        "--skip-name-resolve",
        "--innodb-flush-log-at-trx-commit=0",
    ]
    control = ProcessService(
        "mariadb", argv, port, lambda: port_open(port), workdir, start_timeout=60
    )
    control.start()
    return MySQLService(host=LOCALHOST, port=port, control=control, **_MYSQL_ACCOUNT)


# --- Prometheus ---------------------------------------------------------------------------


@dataclass
class PrometheusService:
    port: int
    control: ProcessService | None  # None when a container holds it
    container: Any = None

    @property
    def url(self) -> str:
        return f"http://{LOCALHOST}:{self.port}"

    @property
    def remote_write_url(self) -> str:
        return f"{self.url}/api/v1/write"

    def query(self, promql: str) -> list[dict[str, object]]:
        """Instant query through the HTTP API; the ``result`` list."""
        import json
        import urllib.parse

        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback
            body = json.load(response)
        assert body["status"] == "success", body
        return list(body["data"]["result"])

    def close(self) -> None:
        if self.control:
            self.control.stop()
        elif self.container is not None:
            self.container.stop()


# docker-compose.yml's flags, so tests see what the stack stores (exemplars included).
PROMETHEUS_FLAGS = ("--web.enable-remote-write-receiver", "--enable-feature=exemplar-storage")


def start_prometheus(workdir: Path, config: Path | None = None) -> PrometheusService:
    """Prometheus with the remote-write receiver: the path the collector writes to.

    ``config`` defaults to ``deploy/prometheus/prometheus.yml`` unchanged.
    """
    config_file = Path(config or REPO / "deploy/prometheus/prometheus.yml").resolve()
    port = free_port()
    if docker_available():
        from testcontainers.core.container import DockerContainer

        # The config's folder and the repository at their own paths, so the config and
        # the rule files it names resolve inside the container as they do here.
        container = (
            DockerContainer(compose_image("PROMETHEUS_IMAGE"))
            .with_bind_ports(9090, port)
            .with_volume_mapping(str(config_file.parent), str(config_file.parent), "ro")
            .with_volume_mapping(str(REPO), str(REPO), "ro")
            .with_command(
                [
                    f"--config.file={config_file}",
                    "--storage.tsdb.path=/prometheus",
                    *PROMETHEUS_FLAGS,
                ]
            )
        )
        container.start()
        wait_for(lambda: http_ok(f"http://{LOCALHOST}:{port}/-/ready"), 60, "prometheus container")
        return PrometheusService(port, control=None, container=container)
    binary = require_binary("prometheus", "prometheus")
    argv = [
        binary,
        f"--config.file={config_file}",
        f"--storage.tsdb.path={workdir / 'tsdb'}",
        f"--web.listen-address={LOCALHOST}:{port}",
        *PROMETHEUS_FLAGS,
    ]
    control = ProcessService(
        "prometheus",
        argv,
        port,
        lambda: http_ok(f"http://{LOCALHOST}:{port}/-/ready"),
        workdir,
    )
    control.start()
    return PrometheusService(port, control=control)


# --- OpenTelemetry Collector (built from deploy/otel-collector/builder-config.yaml) ----


def collector_binary() -> Path:
    """Build (or reuse the cached build of) our collector distribution.

    The build script rebuilds only when the manifest changes, so this is cheap after the
    first call. Without Go the build cannot run: that is reported, not skipped silently.
    """
    if shutil.which("go") is None and not os.environ.get("DBSBM_OTELCOL_BIN"):
        missing("the Go toolchain", "the collector is built from our manifest with Go")
    if os.environ.get("DBSBM_OTELCOL_BIN"):
        return Path(os.environ["DBSBM_OTELCOL_BIN"])
    result = subprocess.run(
        ["bash", str(REPO / "scripts/build-collector.sh"), "--print-path"],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"building the collector failed:\n{result.stderr[-4000:]}", pytrace=False)
    return Path(result.stdout.strip().splitlines()[-1])


@dataclass
class CollectorService:
    control: ProcessService
    otlp_grpc_port: int
    otlp_http_port: int
    health_port: int

    @property
    def otlp_http_endpoint(self) -> str:
        return f"http://{LOCALHOST}:{self.otlp_http_port}"

    @property
    def otlp_grpc_endpoint(self) -> str:
        return f"http://{LOCALHOST}:{self.otlp_grpc_port}"

    def close(self) -> None:
        self.control.stop()


def start_collector(
    workdir: Path,
    configs: Sequence[Path],
    env: dict[str, str] | None = None,
    name: str = "otelcol",
) -> CollectorService:
    """Run the built collector on ``configs`` (layered in order) with free ports.

    The config files read their ports and endpoints from ``${env:...}``; this sets the
    ``OTELCOL_*`` listen variables to free loopback ports and passes ``env`` through.
    """
    binary = collector_binary()
    grpc_port, http_port, health_port, telemetry_port = (free_port() for _ in range(4))
    full_env = {
        "OTELCOL_OTLP_GRPC_ENDPOINT": f"{LOCALHOST}:{grpc_port}",
        "OTELCOL_OTLP_HTTP_ENDPOINT": f"{LOCALHOST}:{http_port}",
        "OTELCOL_HEALTH_ENDPOINT": f"{LOCALHOST}:{health_port}",
        "OTELCOL_TELEMETRY_PORT": str(telemetry_port),
        "OTELCOL_TELEMETRY_HOST": LOCALHOST,
        **(env or {}),
    }
    argv = [str(binary), *(f"--config={c}" for c in configs)]
    control = ProcessService(
        name,
        argv,
        health_port,
        lambda: http_ok(f"http://{LOCALHOST}:{health_port}/"),
        workdir,
        env=full_env,
    )
    control.start()
    return CollectorService(control, grpc_port, http_port, health_port)


def service_dir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"dbsbm-{prefix}-"))
