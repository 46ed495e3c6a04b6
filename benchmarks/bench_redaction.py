"""Cost of redacting one text: our rules vs detect-secrets' plugins, side by side in one run.

* ``redact(text)`` (find and mask every secret shape) vs running the detect-secrets plugins
  whose shapes our rules mirror over the same text (``analyze_line``: finding only, no
  masking), which is what taking detect-secrets' knowledge at run time would cost per
  log line.
* fourteen clean lines a bot logs, as one total (with ``--baseline``, beside the baseline's).
* ``redact_attributes`` of a typical span's attributes (no baseline: absolute figures).
* with ``--baseline FILE``: that file's ``redact`` on the same texts too, e.g. an earlier
  version of the module, to see what a change costs on each text::

    git show REV:instrumentation/dbsbm_instrumentation/redaction.py > /tmp/old_redaction.py
    python benchmarks/bench_redaction.py --baseline /tmp/old_redaction.py

    python benchmarks/bench_redaction.py

Rounds alternate between variants, so machine drift hits all alike; each variant's best
round is reported.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from collections.abc import Callable
from functools import partial
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
# Clean lines a betting bot logs (discord.py's own among them): the texts redaction sees
# most, timed as one total.
BOT_LINES = (
    "user 123456789 placed bet 987 at odds 2.5",
    "Loaded 12 cogs in 0.52 s; syncing application commands for 3 guilds now",
    "GET https://v3.football.api-sports.io/fixtures?league=39 took 0.2s",
    "Command /bet by 123456789012345678 in guild 987654321098765432 completed in 41.3 ms",
    "cache miss for bets:guild:123456789:active (ttl 300 s)",
    "Shard ID 0 has connected to Gateway (Session ID: 4f1c2e9a8b7d6c5e4f3a2b1c0d9e8f7a).",
    "Retrying fetch_odds after ConnectionResetError (attempt 2/5, backoff 0.8 s)",
    "circuit breaker api-sports opened after 5 failures",
    "SELECT id, balance FROM users WHERE discord_id = %s",
    "Heartbeat blocked for more than 10 seconds.",
    "Settled 42 bets for fixture 1035045 (Arsenal vs Chelsea), paid out 1234.50 units",
    "redis unavailable, serving from local fallback cache (512 entries)",
    "2026-12-02 08:00:01,123 INFO discord.client logging in using static token",
    "trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=00f067aa0ba902b7 sampled",
)
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


def timed(op: Callable[[], object], n: int) -> Callable[[], float]:
    return lambda: per_op_us(op, n)


def load_redact(path: str) -> Callable[[str], str]:
    """``redact`` from a redaction module file outside the package (loaded under another name)."""
    spec = importlib.util.spec_from_file_location("baseline_redaction", path)
    if spec is None or spec.loader is None:
        sys.exit(f"--baseline {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    redact_function: Callable[[str], str] = module.redact
    return redact_function


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--baseline", metavar="FILE", help="a redaction.py to time beside ours")
    args = parser.parse_args()
    baseline = load_redact(args.baseline) if args.baseline else None
    plugins = [
        plugin()
        for plugin in get_mapping_from_secret_type_to_class().values()
        if plugin.__name__ in DETECT_SECRETS_PLUGINS
    ]

    def detect_secrets_scan(text: str) -> object:
        return [p.analyze_line(filename="bot.log", line=text, line_number=1) for p in plugins]

    variants: dict[str, Callable[[], float]] = {}
    for name, text in TEXTS.items():
        variants[f"ours {name}"] = timed(partial(redact, text), N)
        variants[f"detect-secrets {name}"] = timed(partial(detect_secrets_scan, text), N // 10)
        if baseline is not None:
            variants[f"baseline {name}"] = timed(partial(baseline, text), N)

    def all_lines(redact_function: Callable[[str], str]) -> None:
        for line in BOT_LINES:
            redact_function(line)

    variants["ours bot lines"] = timed(partial(all_lines, redact), N // 10)
    if baseline is not None:
        variants["baseline bot lines"] = timed(partial(all_lines, baseline), N // 10)
    variants["ours redact_attributes (6 attributes, clean)"] = lambda: per_op_us(
        lambda: redact_attributes(SPAN_ATTRIBUTES), N
    )
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(ROUNDS):
        for name, run in variants.items():
            samples[name].append(run())
    best = {name: min(values) for name, values in samples.items()}

    print(f"redacting one text, best of {ROUNDS} alternating rounds (us per text)")
    header = f"  {'text':28s} {'ours':>9s} {'detect-secrets':>15s} {'ratio':>7s}"
    if baseline is not None:
        header += f" {'baseline':>9s} {'ratio':>7s}"
    print(header)
    for name in TEXTS:
        ours, theirs = best[f"ours {name}"], best[f"detect-secrets {name}"]
        row = f"  {name:28s} {ours:9.3f} {theirs:15.2f} {ours / theirs:6.3f}x"
        if baseline is not None:
            old = best[f"baseline {name}"]
            row += f" {old:9.3f} {ours / old:6.2f}x"
        print(row)
    lines = f"  {len(BOT_LINES)} clean bot lines, total: ours {best['ours bot lines']:.2f} us"
    if baseline is not None:
        old_lines = best["baseline bot lines"]
        lines += f", baseline {old_lines:.2f} us ({best['ours bot lines'] / old_lines:.2f}x)"
    print(lines)
    attributes = best["ours redact_attributes (6 attributes, clean)"]
    print(f"  redact_attributes, 6 clean span attributes: {attributes:.2f} us")


if __name__ == "__main__":
    main()
