"""Cost of one JSON log line: ours vs python-json-logger, side by side in one run.

* ``format(record)`` of the same record, created inside an active span: our
  ``JsonFormatter`` (trace ids, service.name, redaction on)  vs  python-json-logger's plain
  ``pythonjsonlogger.json.JsonFormatter`` (target <= 0.6x), and its ``OrjsonFormatter``
  for reference.
* the whole ``logger.info(...)`` call into a handler: ours (trace-context record factory +
  record redaction before handlers + our formatter) vs the stdlib factory + plain
  python-json-logger; and ours with the OTLP bridge on (record -> SDK LoggerProvider ->
  batch processor, export dropped).

    python benchmarks/bench_logging.py

Rounds alternate between variants, so machine drift hits all alike; each variant's best
round is reported (the machine is shared: the least-disturbed round is the cost).
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable

from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import (
    BatchLogRecordProcessor,
    LogRecordExporter,
    LogRecordExportResult,
)
from opentelemetry.sdk.trace import TracerProvider
from pythonjsonlogger.json import JsonFormatter as PlainJsonFormatter

from dbsbm_instrumentation import logs

ROUNDS = 9
N = 10_000


class _DropLogs(LogRecordExporter):
    def export(self, batch: object) -> LogRecordExportResult:
        return LogRecordExportResult.SUCCESS

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def per_op_us(op: Callable[[], object], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        op()
    return (time.perf_counter() - start) / n * 1e6


def best_of_rounds(variants: dict[str, Callable[[], float]]) -> dict[str, float]:
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(ROUNDS):
        for name, run in variants.items():
            samples[name].append(run())
    return {name: min(values) for name, values in samples.items()}


def main() -> None:
    tracer = TracerProvider().get_tracer("bench")
    stdlib_factory = logging.getLogRecordFactory()
    logs.install_trace_context("dbsbm")
    ours_factory = logging.getLogRecordFactory()
    logger = logging.getLogger("bot.cogs.betting")
    logger.propagate = False
    logger.setLevel(logging.INFO)

    with tracer.start_as_current_span("command.bet"):
        record = logger.makeRecord(
            logger.name,
            logging.INFO,
            __file__,
            42,
            "user %s placed bet %s at odds %s",
            (123456789, 987, 2.5),
            None,
            "place_bet",
            {"guild_id": 42, "command": "bet"},
        )
    ours = logs.JsonFormatter(service_name="dbsbm")
    plain = PlainJsonFormatter()
    variants: dict[str, Callable[[], float]] = {
        "ours JsonFormatter.format": lambda: per_op_us(lambda: ours.format(record), N),
        "python-json-logger JsonFormatter.format": lambda: per_op_us(
            lambda: plain.format(record), N
        ),
    }
    try:
        from pythonjsonlogger.orjson import OrjsonFormatter

        orjson_formatter = OrjsonFormatter()
        variants["python-json-logger OrjsonFormatter.format"] = lambda: per_op_us(
            lambda: orjson_formatter.format(record), N
        )
    except ImportError:
        print("(orjson not installed: no OrjsonFormatter reference)")

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger.handlers = [handler]
    provider = LoggerProvider()
    provider.add_log_record_processor(BatchLogRecordProcessor(_DropLogs()))

    def end_to_end(
        formatter: logging.Formatter,
        factory: Callable[..., logging.LogRecord],
        ours: bool = True,
        bridge: bool = False,
    ) -> float:
        handler.setFormatter(formatter)
        logging.setLogRecordFactory(factory)
        if ours:
            logs.install_record_redaction()  # what configure_logging/configure_telemetry do
        if bridge:
            logs.install_otlp_bridge(provider)
        try:
            with tracer.start_as_current_span("command.bet"):
                return per_op_us(
                    lambda: logger.info(
                        "user %s placed bet %s at odds %s",
                        123456789,
                        987,
                        2.5,
                        extra={"guild_id": 42, "command": "bet"},
                    ),
                    N,
                )
        finally:
            logs.uninstall_otlp_bridge()
            logs.uninstall_record_redaction()
            stream.seek(0)
            stream.truncate()

    variants["ours logger.info (factory + redaction + format)"] = lambda: end_to_end(
        ours, ours_factory
    )
    variants["plain logger.info (python-json-logger)"] = lambda: end_to_end(
        plain, stdlib_factory, ours=False
    )
    variants["ours logger.info + OTLP bridge"] = lambda: end_to_end(ours, ours_factory, bridge=True)

    print(f"one JSON log line, best of {ROUNDS} alternating rounds x {N} (us per line)")
    result = best_of_rounds(variants)
    for name, value in result.items():
        print(f"  {name:50s} {value:7.2f} us")
    ratio = result["ours JsonFormatter.format"] / result["python-json-logger JsonFormatter.format"]
    print(f"format ratio ours / python-json-logger JsonFormatter: {ratio:.2f}x (target <= 0.60x)")
    e2e = (
        result["ours logger.info (factory + redaction + format)"]
        / result["plain logger.info (python-json-logger)"]
    )
    print(f"logger.info ratio ours (trace context + redaction) / plain: {e2e:.2f}x")
    print("sample line:", ours.format(record))
    provider.shutdown()


if __name__ == "__main__":
    main()
