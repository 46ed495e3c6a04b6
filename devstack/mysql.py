"""MySQL: Debian's MariaDB with a data directory of its own, or the compose image.

The account (``dbsbm``) may create databases, because tests and the demo each use their
own. Its password is set at every start, so a data directory kept between demo runs takes
that run's password.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from devstack.containers import (
    ServerService,
    backend,
    compose_image,
    publish,
    run,
    wait_ready,
)
from devstack.process import (
    LOOPBACK,
    Process,
    StartError,
    free_port,
    port_open,
    require_binary,
)

MYSQL_USER = "dbsbm"
MYSQL_PASSWORD = "dbsbm-test-pw"  # a throwaway loopback server's password
MYSQL_DATABASE = "dbsbm_test"
MYSQL_ROOT_PASSWORD = "dbsbm-test-root-pw"  # the container's root, for the grant only


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


def mariadb_process(
    workdir: Path,
    port: int,
    *,
    password: str = MYSQL_PASSWORD,
    database: str = MYSQL_DATABASE,
    log_dir: Path | None = None,
) -> Process:
    """mariadbd on ``port``, its data under ``workdir/data`` (created on first use)."""
    mariadbd = require_binary("mariadbd", "mariadb-server")
    datadir = workdir / "data"
    if not (datadir / "mysql").is_dir():
        result = subprocess.run(
            [
                require_binary("mariadb-install-db", "mariadb-server"),
                f"--datadir={datadir}",
                "--user=root",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ],
            capture_output=True,
            text=True,
            cwd=workdir,
            check=False,
        )
        if result.returncode != 0:
            tail = "\n".join(result.stderr.splitlines()[-10:])
            raise StartError(f"mariadb-install-db failed for {datadir}:\n{tail}")
    # Clients come over TCP to 127.0.0.1 and names are not resolved: that is their host.
    user = f"'{MYSQL_USER}'@'{LOOPBACK}'"
    init = workdir / "init.sql"
    init.write_text(
        f"CREATE DATABASE IF NOT EXISTS {database};\n"
        f"CREATE USER IF NOT EXISTS {user};\n"
        f"ALTER USER {user} IDENTIFIED BY '{password}';\n"
        f"GRANT ALL ON *.* TO {user};\n"
    )
    init.chmod(0o600)
    argv = [
        mariadbd,
        "--no-defaults",
        f"--datadir={datadir}",
        f"--socket={workdir / 'mysqld.sock'}",
        f"--port={port}",
        f"--bind-address={LOOPBACK}",
        "--user=root",
        f"--init-file={init}",
        f"--pid-file={workdir / 'mysqld.pid'}",
        "--skip-log-bin",
        "--skip-name-resolve",
        "--innodb-buffer-pool-size=32M",
        # A dev server: commits need not survive a power cut, and tests run faster.
        "--innodb-flush-log-at-trx-commit=0",
    ]
    log = (log_dir or workdir) / "mariadb.log"
    return Process("mariadb", argv, lambda: port_open(port), log, cwd=workdir, start_timeout=90)


def _grant_all(port: int) -> bool:
    """As root, let the account create databases, as it may on the local server.

    Succeeds only once the real server listens (the image's set-up server does not), so
    it doubles as the readiness check.
    """
    import pymysql

    connection = pymysql.connect(
        host=LOOPBACK, port=port, user="root", password=MYSQL_ROOT_PASSWORD, connect_timeout=2
    )
    with connection, connection.cursor() as cursor:
        cursor.execute(f"GRANT ALL ON *.* TO '{MYSQL_USER}'@'%'")
    return True


def start_mysql(workdir: Path) -> MySQLService:
    """A running MySQL on a free loopback port, from the backend ``DBSBM_SERVICES`` picks."""
    port = free_port()
    service = MySQLService(
        host=LOOPBACK,
        port=port,
        user=MYSQL_USER,
        password=MYSQL_PASSWORD,
        database=MYSQL_DATABASE,
        start_timeout=120,  # a container initialises its data directory first
    )
    if backend() == "docker":
        from testcontainers.core.container import DockerContainer

        # The official image's variables (our MariaDB image honours the same ones).
        container = DockerContainer(compose_image("MYSQL_IMAGE")).with_envs(
            MYSQL_ROOT_PASSWORD=MYSQL_ROOT_PASSWORD,
            MYSQL_DATABASE=MYSQL_DATABASE,
            MYSQL_USER=MYSQL_USER,
            MYSQL_PASSWORD=MYSQL_PASSWORD,
        )
        publish(container, 3306, port)
        run(container)
        wait_ready(container, lambda: _grant_all(port), service.start_timeout, "mysql container")
        service.container = container
        return service
    service.control = mariadb_process(workdir, port)
    service.control.start()
    return service
