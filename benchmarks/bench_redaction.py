"""Cost of redacting one text: our rules vs detect-secrets' plugins, side by side in one run.

* ``redact(text)`` (find and mask every secret shape) vs running the detect-secrets plugins
  whose shapes our rules mirror over the same text (``analyze_line``: finding only, no
  masking), which is what taking detect-secrets' knowledge at run time would cost per
  log line.
* ``redact_attributes`` of a typical span's attributes (no baseline: absolute figures).

    python benchmarks/bench_redaction.py

Rounds alternate between variants, so machine drift hits all alike; each variant's best
round is reported.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class

from dbsbm_instrumentation.redaction import redact, redact_attributes
from dbsbm_instrumentation.secret_rules import DETECT_SECRETS_PLUGINS

ROUNDS = 7
N = 5_000

TEXTS = {
    "clean, 41 chars": "user 123456789 placed bet 987 at odds 2.5",
    "clean prose, 128 chars": (
        "Loaded 12 cogs in 0.52 s; syncing application commands for 3 guilds now, please "
        "wait while the bot warms its caches and connects"
    ),
    "clean URL with query": "GET https://v3.football.api-sports.io/fixtures?league=39 took 0.2s",
    "clean JSON, 200 chars": (
        '{"timestamp":"2026-12-02T05:29:10.644Z","level":"INFO","logger":"bot.cogs.betting",'
        '"message":"user 123456789 placed bet 987 at odds 2.5","module":"bench",'
        '"function":"place_bet","line":42}'
    ),
    "password pair": "login failed: password=hunter2 for user 42",
    "Authorization header": "headers={'Authorization': 'Bearer abc.def-123'}",
    "Discord bot token": (
        "connecting with MTA1234567890123456789012.GhIjKl.abcdefghijklmnopqrstuvwxyz0123456"
    ),
}
SPAN_ATTRIBUTES = {
    "db.system.name": "mysql",
    "db.operation.name": "SELECT",
    "db.query.text": "SELECT id, balance FROM users WHERE discord_id = %s",
    "server.address": "db.internal",
    "server.port": 3306,
    "dbsbm.discord.command.name": "bet",
}


def per_op_us(op: Callable[[], object], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        op()
    return (time.perf_counter() - start) / n * 1e6


def main() -> None:
    plugins = [
        plugin()
        for plugin in get_mapping_from_secret_type_to_class().values()
        if plugin.__name__ in DETECT_SECRETS_PLUGINS
    ]

    def detect_secrets_scan(text: str) -> object:
        return [p.analyze_line(filename="bot.log", line=text, line_number=1) for p in plugins]

    variants: dict[str, Callable[[], float]] = {}
    for name, text in TEXTS.items():
        variants[f"ours {name}"] = lambda t=text: per_op_us(lambda: redact(t), N)
        variants[f"detect-secrets {name}"] = lambda t=text: per_op_us(
            lambda: detect_secrets_scan(t), N // 10
        )
    variants["ours redact_attributes (6 attributes, clean)"] = lambda: per_op_us(
        lambda: redact_attributes(SPAN_ATTRIBUTES), N
    )
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(ROUNDS):
        for name, run in variants.items():
            samples[name].append(run())
    best = {name: min(values) for name, values in samples.items()}

    print(f"redacting one text, best of {ROUNDS} alternating rounds (us per text)")
    print(f"  {'text':28s} {'ours':>9s} {'detect-secrets':>15s} {'ratio':>7s}")
    for name in TEXTS:
        ours, theirs = best[f"ours {name}"], best[f"detect-secrets {name}"]
        print(f"  {name:28s} {ours:9.2f} {theirs:15.2f} {ours / theirs:6.3f}x")
    attributes = best["ours redact_attributes (6 attributes, clean)"]
    print(f"  redact_attributes, 6 clean span attributes: {attributes:.2f} us")


if __name__ == "__main__":
    main()
