"""``redis``: PING, then set/get/delete the agent's own key: the cache answers and stores.

Not required by default: the bot's cache falls back to its local tier without Redis.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import unquote, urlsplit

from .base import (
    InvalidSetting,
    ProbeConfig,
    ProbeKind,
    ProbeResult,
    Recorder,
    decimal,
    describe,
    env_port,
    error_text,
    failed,
    host_port,
    non_negative_integer,
    optional,
    port,
    positive,
    setting,
    string,
    timed,
)

PROBE_INTERVAL_SECONDS = 30.0
_URL_MESSAGE = "must be a redis://HOST:PORT/DB URL"


@dataclass(frozen=True)
class RedisSettings:
    """``url`` supplies host, port, db and credentials; the keys themselves win over it."""

    url: str | None = setting(None, optional(string), secret=True)
    host: str = setting("127.0.0.1", string)
    port: int = setting(6379, port)
    db: int = setting(0, non_negative_integer)
    username: str | None = setting(None, optional(string))
    password: str | None = setting(None, optional(string), secret=True)
    key: str | None = setting(None, optional(string))
    latency_warn: float | None = setting(None, optional(positive))


def parse_url(url: str, fail: Callable[[str], Exception]) -> dict[str, Any]:
    """``redis://[USER:PASSWORD@]HOST[:PORT][/DB]`` as the settings it stands for."""
    try:
        parts = urlsplit(url)
        number = 6379 if parts.port is None else parts.port
    except ValueError:  # a port that is not a number 0-65535, a '[' without its ']'
        raise fail(_URL_MESSAGE) from None
    db = decimal(parts.path.strip("/") or "0")
    if parts.scheme != "redis" or not parts.hostname or number == 0 or db is None:
        raise fail(_URL_MESSAGE)
    return {
        "host": parts.hostname,
        "port": number,
        "db": db,
        "username": unquote(parts.username) if parts.username else None,
        "password": unquote(parts.password) if parts.password else None,
    }


def _finish(
    settings: RedisSettings, given: Mapping[str, Any], environ: Mapping[str, str]
) -> RedisSettings:
    if settings.url is not None:
        from_url = parse_url(settings.url, lambda message: InvalidSetting("url", message))
        settings = replace(settings, **{k: v for k, v in from_url.items() if k not in given})
    return settings


def own_key() -> str:
    """One key per agent process, so two agents never read each other's value."""
    return f"dbsbm-agent:probe:{os.uname().nodename}:{os.getpid()}"


def env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "REDIS_URL" in environ:
        # Checked here so a bad port or db is blamed on REDIS_URL, not on the file.
        parse_url(
            environ["REDIS_URL"],
            lambda message: InvalidSetting("REDIS_URL", message, variable=True),
        )
        out["url"] = environ["REDIS_URL"]
    names = {"REDIS_HOST": "host", "REDIS_USERNAME": "username", "REDIS_PASSWORD": "password"}
    out.update({key: environ[var] for var, key in names.items() if var in environ})
    if "REDIS_PORT" in environ:
        out["port"] = env_port(environ, "REDIS_PORT")
    if "REDIS_DB" in environ:
        db = decimal(environ["REDIS_DB"])
        if db is None:
            raise InvalidSetting(
                "REDIS_DB", f"must be a number, got {describe(environ['REDIS_DB'])}", variable=True
            )
        out["db"] = db
    return out


async def probe_redis(
    target: str, module: ProbeConfig[RedisSettings], registry: Recorder, logger: logging.Logger
) -> ProbeResult:
    """PING, then set/get/delete."""
    import redis.asyncio as aioredis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
    from redis.exceptions import RedisError

    settings = module.settings
    key = settings.key or own_key()
    started = time.perf_counter()
    # No redis-py retries: its defaults retry for seconds, hiding the failure we report.
    client = aioredis.Redis(
        host=settings.host,
        port=settings.port,
        db=settings.db,
        username=settings.username,
        password=settings.password,
        socket_timeout=module.timeout,
        socket_connect_timeout=module.timeout,
        retry=Retry(NoBackoff(), 0),
        single_connection_client=True,
    )
    value = secrets.token_hex(8)
    try:
        await client.ping()
        await client.set(key, value, px=max(1, int(module.timeout * 1000)) * 2)
        read = await client.get(key)
        await client.delete(key)
    except (RedisError, OSError) as exc:
        return failed(logger, module, f"redis at {target}: {error_text(exc)}", exc)
    finally:
        await client.aclose()
    if read != value.encode():
        return failed(logger, module, f"redis at {target}: read back {read!r}, wrote {value!r}")
    return timed(settings.latency_warn, started, "PING and set/get/delete")


KIND = ProbeKind(
    name="redis",
    settings=RedisSettings,
    prober=probe_redis,
    target=lambda s: f"redis://{host_port(s.host, s.port)}/{s.db}",
    component_type="datastore",
    interval=PROBE_INTERVAL_SECONDS,
    env=env_overrides,
    finish=_finish,
)
