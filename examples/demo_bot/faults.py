"""Faults the demo can inject on demand, so the stack's alerts have something to catch.

One mutable :class:`Faults` object is shared by the database layer, the fake sports API
and the command cogs; the control endpoint (``POST /faults``) changes it while the bot
runs. Rates are probabilities in [0, 1], durations are seconds.
"""

from __future__ import annotations

import dataclasses
import json
import random
from dataclasses import dataclass
from typing import Any


class FaultError(ValueError):
    """A fault specification that cannot be applied (unknown field or bad value)."""


@dataclass
class Faults:
    """What to break, and how badly."""

    slow_db: float = 0.0  # seconds of ``SELECT SLEEP(x)`` before each uncached statement
    slow_db_rate: float = 1.0  # share of statements that get the sleep
    db_error_rate: float = 0.0  # share of reads that run invalid SQL
    api_latency: float = 0.0  # seconds the sports API waits before answering
    api_error_rate: float = 0.0  # share of API answers that are HTTP 500
    api_429_rate: float = 0.0  # share of API answers that are HTTP 429 + Retry-After
    command_error_rate: float = 0.0  # share of commands that raise
    cold_read_rate: float = 0.0  # share of !stats, /schedule, /odds asking what no cache holds
    command_stall: float = 0.0  # seconds every command waits first: a dependency that hangs

    _RATES = (
        "slow_db_rate",
        "db_error_rate",
        "api_error_rate",
        "api_429_rate",
        "command_error_rate",
        "cold_read_rate",
    )

    def update(self, changes: dict[str, Any]) -> None:
        """Apply ``changes`` all-or-nothing; raise :class:`FaultError` naming a bad field."""
        known = {f.name: f for f in dataclasses.fields(self)}
        parsed: dict[str, float] = {}
        for name, value in changes.items():
            if name not in known:
                raise FaultError(f"unknown fault {name!r}; known: {', '.join(sorted(known))}")
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise FaultError(f"fault {name!r} must be a number, got {value!r}")
            value = float(value)
            if value < 0 or (name in self._RATES and value > 1):
                limit = "between 0 and 1" if name in self._RATES else ">= 0"
                raise FaultError(f"fault {name!r} must be {limit}, got {value}")
            parsed[name] = value
        for name, value in parsed.items():
            setattr(self, name, value)

    def update_from_json(self, text: str) -> None:
        try:
            changes = json.loads(text or "{}")
        except json.JSONDecodeError as exc:
            raise FaultError(f"faults must be a JSON object: {exc}") from None
        if not isinstance(changes, dict):
            raise FaultError("faults must be a JSON object")
        self.update(changes)

    def reset(self) -> None:
        self.update(dataclasses.asdict(Faults()))

    def as_dict(self) -> dict[str, float]:
        return dataclasses.asdict(self)

    @staticmethod
    def roll(rate: float) -> bool:
        """True with probability ``rate`` (fault injection only, not security)."""
        return rate > 0 and random.random() < rate


class InjectedCommandError(RuntimeError):
    """Raised by a command when ``command_error_rate`` says so."""
