"""Header parsing and URL helpers for the aiohttp client instrumentation."""

from __future__ import annotations

import email.utils
import math
import time

import yarl


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
