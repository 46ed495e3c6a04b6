"""Header parsing and URL helpers for the aiohttp client instrumentation."""

from __future__ import annotations

import email.utils
import logging
import math
import os
import time
from collections.abc import Iterable

import yarl

_log = logging.getLogger(__name__)

RATE_LIMIT_HOSTS_ENV = "OTEL_PYTHON_AIOHTTP_RATE_LIMIT_HOSTS"


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (delta-seconds or an HTTP date).

    None when absent or unparseable; a date in the past gives 0.
    """
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    return max(seconds, 0.0) if math.isfinite(seconds) else None


def strip_query(url: yarl.URL) -> str:
    """``url_filter`` for contrib's aiohttp-client: drop the query from ``url.full``.

    Some providers take the API key as a query parameter (WeatherAPI's ``key=``), and
    contrib only redacts a fixed list of cloud-signature parameters.
    """
    return str(url.with_query(None).with_fragment(None))


def rate_limit_hosts(configured: Iterable[str] | None = None) -> frozenset[str]:
    """API hosts whose 429 counter exists at 0 from start-up: the argument, else the env
    variable (comma-separated), else none.

    A counter series that first appears at 1 shows Prometheus no increase, so without
    this the first 429s from a provider would never reach ``increase()`` or an alert. A
    malformed entry (a URL, a port, a space) is skipped with one warning naming the
    variable.
    """
    if configured is None:
        configured = os.environ.get(RATE_LIMIT_HOSTS_ENV, "").split(",")
    hosts = set()
    for entry in configured:
        host = entry.strip().lower()
        if not host:
            continue
        # as the response URL's host (yarl's decoded form): no scheme, port, path or space
        if any(c in host for c in "/:@?#") or any(c.isspace() for c in host):
            _log.warning("%s: %r is not a host name; ignored", RATE_LIMIT_HOSTS_ENV, entry)
            continue
        hosts.add(host)
    return frozenset(hosts)
