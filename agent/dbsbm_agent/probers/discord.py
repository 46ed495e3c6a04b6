"""``discord``: Discord's REST API is reachable and accepts the bot's token (``/users/@me``).

Required by default: the bot cannot serve commands without Discord. Without a token
(``DISCORD_TOKEN``) the probe is skipped, not failed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from dbsbm_instrumentation import semconv

from .base import (
    Invalid,
    Observation,
    ProbeConfig,
    ProbeKind,
    ProbeResult,
    Recorder,
    Status,
    env_settings,
    error_text,
    failed,
    http_url,
    optional,
    positive,
    setting,
    string,
    timed,
)

PROBE_INTERVAL_SECONDS = 30.0
DISCORD_API = "https://discord.com/api/v10"


def base_url(value: Any) -> str:
    url = http_url(value).rstrip("/")
    parts = urlsplit(url)
    if parts.query or parts.fragment:
        # Paths are appended to the base URL, which would put them inside the query.
        raise Invalid("must not have a query or a fragment")
    return url


def token(value: Any) -> str | None:
    return string(value) or None


@dataclass(frozen=True)
class DiscordSettings:
    base_url: str = setting(DISCORD_API, base_url)
    token: str | None = setting(None, optional(token), secret=True)
    latency_warn: float | None = setting(None, optional(positive))


def env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    # An empty DISCORD_TOKEN (a .env line left blank) keeps the file's token.
    if not environ.get("DISCORD_TOKEN"):
        return {}
    return env_settings(DiscordSettings, environ, {"DISCORD_TOKEN": "token"})


async def probe_discord(
    target: str, module: ProbeConfig[DiscordSettings], registry: Recorder, logger: logging.Logger
) -> ProbeResult:
    """``GET /users/@me`` with the bot token."""
    settings = module.settings
    if not settings.token:
        return ProbeResult(Status.SKIP, "skipped: no bot token configured (set DISCORD_TOKEN)")
    import aiohttp

    started = time.perf_counter()
    headers = {"Authorization": f"Bot {settings.token}"}
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{target}/users/@me", headers=headers, allow_redirects=False) as response,
        ):
            status = response.status
            body: Any = await response.json(content_type=None) if status == 200 else None
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        return failed(logger, module, f"Discord API at {target}: {error_text(exc)}", exc)
    registry.observe(Observation(semconv.PROBE_HTTP_STATUS_CODE, status))
    if status in (401, 403):
        return failed(logger, module, f"token rejected ({status})")
    if status == 429:
        return ProbeResult(Status.WARN, "rate limited (429): token not checked")
    if status != 200:
        return failed(logger, module, f"Discord API at {target}: status {status}")
    user = body.get("username", "?") if isinstance(body, dict) else "?"
    return timed(settings.latency_warn, started, f"token accepted for {user}")


KIND = ProbeKind(
    name="discord",
    settings=DiscordSettings,
    prober=probe_discord,
    target=lambda s: s.base_url,
    component_type="component",
    interval=PROBE_INTERVAL_SECONDS,
    required=True,
    env=env_overrides,
    instruments=(semconv.PROBE_HTTP_STATUS_CODE,),
)
