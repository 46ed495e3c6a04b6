"""Cost of one JSON log line: ours vs python-json-logger, side by side in one run.

* ``format(record)`` of the same record, created inside an active span: our
  ``JsonFormatter`` (trace ids, service.name, redaction on)  vs  python-json-logger's plain
  ``pythonjsonlogger.json.JsonFormatter`` (target <= 0.6x), and its ``OrjsonFormatter``
  for reference. Three records, all with nothing to redact: a short message, one holding
  a URL, and discord.py's gateway line (its punctuation and the word "session" make the
  redaction rules look closer).
* the whole ``logger.info(...)`` call into a handler: ours (trace-context record factory +
  record redaction before handlers + our formatter) vs the stdlib factory + plain
  python-json-logger; and ours with the OTLP bridge on (record -> SDK LoggerProvider ->
  batch processor, export dropped).

    python benchmarks/bench_logging.py

With ``--baseline REV`` the same lines are timed with this checkout's package and with
the package as it was at git revision REV, each in a process of its own (same module
names), rounds alternating between the two: what a change costs a line::

    python benchmarks/bench_logging.py --baseline 14d1df5

Rounds alternate between variants, so machine drift hits all alike; each variant's best
round is reported (the machine is shared: the least-disturbed round is the cost).
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROUNDS = 9
N = 10_000
REPO = Path(__file__).resolve().parent.parent
# The folders that hold our import packages (a revision may lack the newer ones).
PACKAGE_ROOTS = ("instrumentation", "resilience")
MESSAGES = {
    "short": ("user %s placed bet %s at odds %s", (123456789, 987, 2.5)),
    "URL": ("GET %s took %.1fs", ("https://v3.football.api-sports.io/fixtures?league=39", 0.2)),
    "gateway": (
        "Shard ID %s has connected to Gateway (Session ID: %s).",
        (0, "4f1c2e9a8b7d6c5e4f3a2b1c0d9e8f7a"),
    ),
}


def per_op_us(op: Callable[[], object], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        op()
    return (time.perf_counter() - start) / n * 1e6


def build_variants() -> tuple[dict[str, Callable[[], float]], Callable[[], str]]:
    """The timed variants, and a function giving a sample line (our formatter's)."""
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import (
        BatchLogRecordProcessor,
        LogRecordExporter,
        LogRecordExportResult,
    )
    from opentelemetry.sdk.trace import TracerProvider
    from pythonjsonlogger.json import JsonFormatter as PlainJsonFormatter

    from dbsbm_instrumentation import logs

    class DropLogs(LogRecordExporter):
        def export(self, batch: object) -> LogRecordExportResult:
            return LogRecordExportResult.SUCCESS

        def shutdown(self) -> None:
            return None

        def force_flush(self, timeout_millis: int = 30000) -> bool:
            return True

    tracer = TracerProvider().get_tracer("bench")
    stdlib_factory = logging.getLogRecordFactory()
    logs.install_trace_context("dbsbm")
    ours_factory = logging.getLogRecordFactory()
    logger = logging.getLogger("bot.cogs.betting")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    ours = logs.JsonFormatter(service_name="dbsbm")
    plain = PlainJsonFormatter()
    extra = {"guild_id": 42, "command": "bet"}

    variants: dict[str, Callable[[], float]] = {}
    records = {}
    for kind, (message, args) in MESSAGES.items():
        with tracer.start_as_current_span("command.bet"):
            record = logger.makeRecord(
                logger.name, logging.INFO, __file__, 42, message, args, None, "place_bet", extra
            )
        records[kind] = record
        variants[f"ours format, {kind}"] = lambda r=record: per_op_us(lambda: ours.format(r), N)
        variants[f"python-json-logger format, {kind}"] = lambda r=record: per_op_us(
            lambda: plain.format(r), N
        )
    try:
        from pythonjsonlogger.orjson import OrjsonFormatter

        orjson_formatter = OrjsonFormatter()
        record = records["short"]
        variants["python-json-logger OrjsonFormatter format, short"] = lambda: per_op_us(
            lambda: orjson_formatter.format(record), N
        )
    except ImportError:
        print("(orjson not installed: no OrjsonFormatter reference)", file=sys.stderr)

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger.handlers = [handler]
    provider = LoggerProvider()
    provider.add_log_record_processor(BatchLogRecordProcessor(DropLogs()))

    def end_to_end(
        formatter: logging.Formatter,
        factory: Callable[..., logging.LogRecord],
        kind: str,
        ours: bool = True,
        bridge: bool = False,
    ) -> float:
        message, args = MESSAGES[kind]
        handler.setFormatter(formatter)
        logging.setLogRecordFactory(factory)
        if ours:
            logs.install_record_redaction()  # what configure_logging/configure_telemetry do
        if bridge:
            logs.install_otlp_bridge(provider)
        try:
            with tracer.start_as_current_span("command.bet"):
                return per_op_us(lambda: logger.info(message, *args, extra=extra), N)
        finally:
            logs.uninstall_otlp_bridge()
            logs.uninstall_record_redaction()
            stream.seek(0)
            stream.truncate()

    for kind in MESSAGES:
        variants[f"ours logger.info, {kind}"] = lambda k=kind: end_to_end(ours, ours_factory, k)
        variants[f"plain logger.info, {kind}"] = lambda k=kind: end_to_end(
            plain, stdlib_factory, k, ours=False
        )
    variants["ours logger.info + OTLP bridge, short"] = lambda: end_to_end(
        ours, ours_factory, "short", bridge=True
    )
    return variants, lambda: ours.format(records["short"])


def best_of_rounds(variants: dict[str, Callable[[], float]]) -> dict[str, float]:
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(ROUNDS):
        for name, run in variants.items():
            samples[name].append(run())
    return {name: min(values) for name, values in samples.items()}


def compare_with_python_json_logger() -> None:
    variants, sample = build_variants()
    print(f"one JSON log line, best of {ROUNDS} alternating rounds x {N} (us per line)")
    result = best_of_rounds(variants)
    for name, value in result.items():
        print(f"  {name:50s} {value:7.2f} us")
    for kind in MESSAGES:
        ratio = result[f"ours format, {kind}"] / result[f"python-json-logger format, {kind}"]
        print(f"format ratio ours / python-json-logger, {kind}: {ratio:.2f}x (target <= 0.60x)")
        e2e = result[f"ours logger.info, {kind}"] / result[f"plain logger.info, {kind}"]
        print(f"logger.info ratio ours (trace context + redaction) / plain, {kind}: {e2e:.2f}x")
    print("sample line:", sample())


def worker() -> None:
    """Times every variant once per line read from stdin; answers one JSON line each."""
    variants, _ = build_variants()
    for _ in sys.stdin:
        print(json.dumps({name: run() for name, run in variants.items()}), flush=True)


def _start_worker(roots: list[Path]) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(str(root) for root in roots))
    return subprocess.Popen(
        [sys.executable, __file__, "--worker"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tempfile.gettempdir(),  # not the checkout: its folders must not shadow PYTHONPATH
    )


def compare_with_revision(revision: str) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-logging-") as tmp:
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", revision, *PACKAGE_ROOTS],
            capture_output=True,
        )
        if archive.returncode != 0:  # an old revision may lack a folder: take what exists
            archive = subprocess.run(
                ["git", "-C", str(REPO), "archive", revision, PACKAGE_ROOTS[0]],
                capture_output=True,
            )
        if archive.returncode != 0:
            sys.exit(f"--baseline {revision}: {archive.stderr.decode().strip()}")
        subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
        sides = {
            "ours": _start_worker([REPO / root for root in PACKAGE_ROOTS]),
            revision: _start_worker([Path(tmp) / root for root in PACKAGE_ROOTS]),
        }
        samples: dict[str, dict[str, list[float]]] = {side: {} for side in sides}
        try:
            for _ in range(ROUNDS):
                for side, process in sides.items():
                    assert process.stdin is not None and process.stdout is not None
                    process.stdin.write("\n")
                    process.stdin.flush()
                    line = process.stdout.readline()
                    if not line:
                        sys.exit(f"the {side} worker stopped (see its error above)")
                    for name, value in json.loads(line).items():
                        samples[side].setdefault(name, []).append(value)
        finally:
            for process in sides.values():
                if process.stdin is not None:
                    process.stdin.close()
                process.wait()
    best = {side: {name: min(v) for name, v in values.items()} for side, values in samples.items()}
    print(
        f"one JSON log line, this checkout vs {revision}, best of {ROUNDS} alternating rounds "
        f"x {N} (us per line)"
    )
    print(f"  {'variant':45s} {'ours':>7s} {revision:>9s} {'ratio':>7s}")
    for name, ours in best["ours"].items():
        if not name.startswith("ours"):
            continue
        old = best[revision].get(name)
        if old is None:
            print(f"  {name:45s} {ours:7.2f} {'-':>9s}")
            continue
        print(f"  {name:45s} {ours:7.2f} {old:9.2f} {ours / old:6.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--baseline", metavar="REV", help="also time the package as it was at this git revision"
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker()
    elif args.baseline:
        compare_with_revision(args.baseline)
    else:
        compare_with_python_json_logger()


if __name__ == "__main__":
    main()
