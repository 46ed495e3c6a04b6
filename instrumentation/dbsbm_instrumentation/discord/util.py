"""Helpers for the discord.py instrumentation that do not need discord.py itself."""

from __future__ import annotations

import os
import time
from typing import Any

SLASH = "slash"
PREFIX = "prefix"
EVENT = "event"

# Discord's epoch (2015-01-01) in ms: a snowflake's top 42 bits count ms since then.
DISCORD_EPOCH_MS = 1420070400000

# Discord drops an interaction not acknowledged within 3 s: keep that a bucket boundary.
DURATION_BUCKETS: tuple[float, ...] = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.0,
    3.0,
    5.0,
    10.0,
    30.0,
)
LATENCY_BUCKETS: tuple[float, ...] = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0)

EXCLUDED_EVENTS_ENV = "OTEL_PYTHON_DISCORD_EXCLUDED_EVENTS"
# Gateway chatter that fires many times a second on a busy bot and carries no work of ours.
DEFAULT_EXCLUDED_EVENTS = frozenset(
    {
        "on_socket_raw_receive",
        "on_socket_raw_send",
        "on_socket_event_type",
        "on_typing",
        "on_raw_typing",
        "on_presence_update",
    }
)


def excluded_events(configured: Any = None) -> frozenset[str]:
    """Event names to leave untraced: the argument, else the env variable, else defaults.

    Names are discord.py's handler names (``on_message``); ``message`` is accepted too.
    """
    if configured is None:
        raw = os.environ.get(EXCLUDED_EVENTS_ENV)
        if raw is None:
            return DEFAULT_EXCLUDED_EVENTS
        configured = raw.split(",")
    names = (name.strip() for name in configured)
    return frozenset(name if name.startswith("on_") else f"on_{name}" for name in names if name)


def snowflake_age(snowflake: int, now: float | None = None) -> float:
    """Seconds since Discord created the object with this id (clamped at 0)."""
    created = ((snowflake >> 22) + DISCORD_EPOCH_MS) / 1000
    return max((time.time() if now is None else now) - created, 0.0)
