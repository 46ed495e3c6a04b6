"""``redis``: PING, then set/get/delete the agent's own key: the cache answers and stores.

Not required by default: the bot's cache falls back to its local tier without Redis.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import unquote

from .base import (
    Invalid,
    InvalidSetting,
    ProbeConfig,
    ProbeKind,
    ProbeResult,
    Recorder,
    decimal,
    describe,
    env_port,
    env_settings,
    error_text,
    failed,
    host_port,
    hostname,
    non_negative_integer,
    optional,
    port,
    positive,
    setting,
    split_url,
    string,
    string_with_tabs,
    timed,
)

PROBE_INTERVAL_SECONDS = 30.0
_URL_SHAPE = "a redis://HOST:PORT/DB URL"


def parse_url(value: Any) -> dict[str, Any]:
    """``redis://[USER:PASSWORD@]HOST[:PORT][/DB]`` as the settings it stands for."""
    parts = split_url(value, ("redis",), _URL_SHAPE)
    db = decimal(parts.path.strip("/") or "0")
    if db is None:
        raise Invalid(f"must be {_URL_SHAPE}")
    return {
        "host": parts.hostname,
        "port": 6379 if parts.port is None else parts.port,
        "db": db,
        "username": unquote(parts.username) if parts.username else None,
        "password": unquote(parts.password) if parts.password else None,
    }


def redis_url(value: Any) -> str:
    url = string(value)
    parse_url(url)
    return url


@dataclass(frozen=True)
class RedisSettings:
    """``url`` supplies host, port, db and credentials; the keys themselves win over it."""

    url: str | None = setting(None, optional(redis_url), secret=True)
    host: str = setting("127.0.0.1", hostname)
    port: int = setting(6379, port)
    db: int = setting(0, non_negative_integer)
    username: str | None = setting(None, optional(string))
    password: str | None = setting(None, optional(string_with_tabs), secret=True)
    key: str | None = setting(None, optional(string))
    latency_warn: float | None = setting(None, optional(positive))


def _finish(
    settings: RedisSettings, given: Mapping[str, Any], environ: Mapping[str, str]
) -> RedisSettings:
    if settings.url is not None:
        from_url = parse_url(settings.url)  # checked by redis_url already
        settings = replace(settings, **{k: v for k, v in from_url.items() if k not in given})
    return settings


# DBSBM's own variable names, so the agent reads the bot's .env.
_ENV = {
    "REDIS_URL": "url",
    "REDIS_HOST": "host",
    "REDIS_USERNAME": "username",
    "REDIS_PASSWORD": "password",
}


def own_key() -> str:
    """One key per agent process, so two agents never read each other's value."""
    return f"dbsbm-agent:probe:{os.uname().nodename}:{os.getpid()}"


def env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    out = env_settings(RedisSettings, environ, _ENV)
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
