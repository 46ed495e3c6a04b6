"""``mysql``: connect and ``SELECT 1``, so the database answers queries, not just its port.

Required by default: the bot cannot serve commands without its database.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dbsbm_instrumentation import slo

from .base import (
    ProbeConfig,
    ProbeKind,
    ProbeResult,
    Recorder,
    env_port,
    env_settings,
    error_text,
    failed,
    hostname,
    optional,
    port,
    positive,
    setting,
    string,
    string_with_tabs,
    timed,
)

PROBE_INTERVAL_SECONDS = 30.0


@dataclass(frozen=True)
class MySQLSettings:
    host: str = setting("127.0.0.1", hostname)
    port: int = setting(3306, port)
    user: str | None = setting(None, optional(string))
    password: str | None = setting(None, optional(string_with_tabs), secret=True)
    database: str | None = setting(None, optional(string))
    latency_warn: float | None = setting(slo.DB_QUERY_P95_MAX_SECONDS, optional(positive))


# DBSBM's own variable names, so the agent reads the bot's .env.
_ENV = {
    "MYSQL_HOST": "host",
    "MYSQL_USER": "user",
    "MYSQL_PASSWORD": "password",
    "MYSQL_DB": "database",
}


def env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    out = env_settings(MySQLSettings, environ, _ENV)
    if "MYSQL_PORT" in environ:
        out["port"] = env_port(environ, "MYSQL_PORT")
    return out


async def probe_mysql(
    target: str, module: ProbeConfig[MySQLSettings], registry: Recorder, logger: logging.Logger
) -> ProbeResult:
    """Connect and ``SELECT 1``."""
    import aiomysql
    import pymysql

    settings = module.settings
    started = time.perf_counter()
    try:
        connection = await aiomysql.connect(
            host=settings.host,
            port=settings.port,
            user=settings.user,
            password=settings.password or "",
            db=settings.database,
            connect_timeout=module.timeout,
            autocommit=True,
        )
    except (pymysql.err.Error, OSError) as exc:
        return failed(logger, module, f"cannot connect to {target}: {error_text(exc)}", exc)
    try:
        async with connection.cursor() as cursor:
            await cursor.execute("SELECT 1")
            row = await cursor.fetchone()
        if row != (1,):
            return failed(logger, module, f"SELECT 1 returned {row!r}")
    except (pymysql.err.Error, OSError) as exc:
        return failed(logger, module, f"SELECT 1 failed: {error_text(exc)}", exc)
    finally:
        connection.close()
    return timed(settings.latency_warn, started, "SELECT 1")


KIND = ProbeKind(
    name="mysql",
    settings=MySQLSettings,
    prober=probe_mysql,
    target=lambda s: f"{s.host}:{s.port}",
    component_type="datastore",
    interval=PROBE_INTERVAL_SECONDS,
    required=True,
    env=env_overrides,
)
