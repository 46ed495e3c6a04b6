"""``http``: one request to an external API the bot calls; expected status, then latency.

Not required by default: a failing API degrades single commands, not the bot.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from dbsbm_instrumentation import semconv, slo

from .base import (
    Invalid,
    InvalidSetting,
    Observation,
    ProbeConfig,
    ProbeKind,
    ProbeResult,
    Recorder,
    describe,
    env_name,
    error_text,
    failed,
    header_name,
    host_port,
    http_url,
    mapping_setting,
    optional,
    positive,
    required_setting,
    setting,
    shorten,
    string,
    string_map,
    string_with_tabs,
    timed,
)

PROBE_INTERVAL_SECONDS = 60.0
METHODS = ("GET", "HEAD", "POST")


def header_value(value: Any) -> str:
    """A CR or LF would end the header and start another one of the value's choosing."""
    return string_with_tabs(value)


def method(value: Any) -> str:
    upper = string(value).upper()
    if upper not in METHODS:
        raise Invalid(f"must be one of {', '.join(METHODS)}, got {describe(upper)}")
    return upper


def status_codes(value: Any) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(
        isinstance(code, int) and not isinstance(code, bool) and 100 <= code <= 599
        for code in value
    ):
        shown = shorten(repr(value)) if isinstance(value, list) else describe(value)
        raise Invalid(f"must be a list of HTTP status codes 100-599, got {shown}")
    return tuple(value)


@dataclass(frozen=True)
class HTTPSettings:
    # The full URL may carry an API key in its query, so repr hides it.
    url: str = required_setting(http_url, secret=True)
    method: str = setting("GET", method)
    expected_status: tuple[int, ...] = setting((), status_codes)  # empty: any 2xx
    headers: dict[str, str] = mapping_setting(string_map(header_name, header_value), secret=True)
    # header name -> environment variable holding its value (API keys stay out of the file)
    headers_from_env: dict[str, str] = mapping_setting(string_map(header_name, env_name))
    latency_warn: float | None = setting(slo.API_LATENCY_P95_MAX_SECONDS, optional(positive))


def _finish(
    settings: HTTPSettings, given: Mapping[str, Any], environ: Mapping[str, str]
) -> HTTPSettings:
    headers = dict(settings.headers)
    for header, variable in settings.headers_from_env.items():
        if variable not in environ:
            raise InvalidSetting(
                f"headers_from_env.{shorten(header)}",
                f"environment variable {shorten(variable)} is not set",
            )
        try:
            headers[header] = header_value(environ[variable])
        except Invalid as exc:
            raise InvalidSetting(
                f"headers_from_env.{shorten(header)}", f"environment variable {variable} {exc}"
            ) from None
    return replace(settings, headers=headers)


def _target(settings: HTTPSettings) -> str:
    """The URL as shown in /health and logs: no credentials, no query (API keys hide there)."""
    parts = urlsplit(settings.url)
    return urlunsplit(
        (parts.scheme, host_port(parts.hostname or "", parts.port), parts.path, "", "")
    )


async def probe_http(
    target: str, module: ProbeConfig[HTTPSettings], registry: Recorder, logger: logging.Logger
) -> ProbeResult:
    """One request: expected status, then latency."""
    import aiohttp

    settings = module.settings
    started = time.perf_counter()
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                settings.method,
                settings.url,
                headers=dict(settings.headers),
                allow_redirects=False,
            ) as response,
        ):
            status = response.status
    except (aiohttp.ClientError, OSError) as exc:
        return failed(logger, module, f"{settings.method} {target}: {error_text(exc)}", exc)
    registry.observe(Observation(semconv.PROBE_HTTP_STATUS_CODE, status))
    expected = settings.expected_status
    if (status not in expected) if expected else not 200 <= status < 300:
        wanted = ", ".join(map(str, expected)) if expected else "2xx"
        return failed(
            logger, module, f"{settings.method} {target}: status {status}, expected {wanted}"
        )
    return timed(settings.latency_warn, started, f"{settings.method} {target} answered {status}")


KIND = ProbeKind(
    name="http",
    settings=HTTPSettings,
    prober=probe_http,
    target=_target,
    component_type="component",
    interval=PROBE_INTERVAL_SECONDS,
    finish=_finish,
    instruments=(semconv.PROBE_HTTP_STATUS_CODE,),
)
