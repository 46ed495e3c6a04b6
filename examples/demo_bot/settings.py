"""The demo bot's settings: DBSBM's environment variable names, plus ``DEMO_*`` ones.

Bad values end the program with one line naming the variable (exit 2), never a traceback.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from typing import NoReturn

# A fake credential planted on purpose: the bot writes it into one log message and one SQL
# comment so the end-to-end test can assert that redaction removed it everywhere
# (collector output, Prometheus labels). It is not a real key for anything.
TEST_SECRET = (  # dbsbm-audit: ignore[DBSBM-CRED-001] fake, planted on purpose
    "dbsbm-TEST-SECRET-do-not-export-7f3a9c"
)


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports bad arguments in one line (no usage block), exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


class SettingsError(ValueError):
    """A setting with a bad value; the message names it."""


@dataclass(frozen=True)
class Settings:
    mysql_host: str
    mysql_port: int
    mysql_user: str
    mysql_password: str
    mysql_db: str
    pool_min: int
    pool_max: int
    connect_timeout: float
    api_key: str
    api_port: int  # 0: any free loopback port
    control_port: int  # 0: any free loopback port
    rate: float  # commands per second sent by the traffic generator
    duration: float  # seconds; 0 runs until SIGINT/SIGTERM
    faults: str  # JSON for Faults.update_from_json


def _int(env: dict[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be >= {minimum}, got {value}")
    return value


def _float(env: dict[str, str], name: str, default: float, minimum: float = 0.0) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be >= {minimum}, got {value}")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = OneLineParser(
        prog="python -m examples.demo_bot",
        description="DBSBM-shaped demo bot with a built-in traffic generator (no Discord "
        "connection). Run it under opentelemetry-instrument to get telemetry.",
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=None,
        help="stop after this many seconds (default: DEMO_DURATION or forever)",
    )
    parser.add_argument(
        "--rate", type=float, default=None, help="commands per second (default: DEMO_RATE or 4)"
    )
    return parser.parse_args(argv)


def load(argv: list[str] | None = None, env: dict[str, str] | None = None) -> Settings:
    args = parse_args(argv)
    env = dict(os.environ if env is None else env)
    if args.duration is not None and args.duration < 0:
        raise SettingsError(f"--duration must be >= 0, got {args.duration}")
    if args.rate is not None and args.rate <= 0:
        raise SettingsError(f"--rate must be > 0, got {args.rate}")
    pool_min = _int(env, "MYSQL_POOL_MIN_SIZE", 1)
    pool_max = _int(env, "MYSQL_POOL_MAX_SIZE", 10, minimum=1)
    if pool_min > pool_max:
        raise SettingsError(
            f"MYSQL_POOL_MIN_SIZE ({pool_min}) must not exceed MYSQL_POOL_MAX_SIZE ({pool_max})"
        )
    return Settings(
        mysql_host=env.get("MYSQL_HOST", "127.0.0.1"),
        mysql_port=_int(env, "MYSQL_PORT", 3306, minimum=1),
        mysql_user=env.get("MYSQL_USER", "dbsbm"),
        mysql_password=env.get("MYSQL_PASSWORD", ""),
        mysql_db=env.get("MYSQL_DB", "dbsbm"),
        pool_min=pool_min,
        pool_max=pool_max,
        connect_timeout=_float(env, "MYSQL_CONNECT_TIMEOUT", 30.0),
        api_key=env.get("API_SPORTS_KEY") or TEST_SECRET,
        api_port=_int(env, "DEMO_API_PORT", 0),
        control_port=_int(env, "DEMO_CONTROL_PORT", 0),
        rate=args.rate if args.rate is not None else _float(env, "DEMO_RATE", 4.0, 0.01),
        duration=args.duration if args.duration is not None else _float(env, "DEMO_DURATION", 0.0),
        faults=env.get("DEMO_FAULTS", ""),
    )
