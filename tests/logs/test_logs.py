"""Structured logging: JSON and text lines, modes, rotation, noisy loggers, record redaction,
OTLP bridge."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.trace import TracerProvider

from dbsbm_instrumentation import logs
from dbsbm_instrumentation.redaction import RedactingLogRecordExporter
from dbsbm_instrumentation.semconv import ERROR_CODE
from dbsbm_resilience.errors import RateLimitException

tracer = TracerProvider().get_tracer("test")


@pytest.fixture(autouse=True)
def restore_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Give each test a clean root logger and environment, and put everything back."""
    for name in ("DBSBM_ENV", "DBSBM_LOG_FORMAT", "OTEL_SERVICE_NAME"):
        monkeypatch.delenv(name, raising=False)
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, logging.getLogRecordFactory())
    noisy = {name: logging.getLogger(name).level for name in logs.NOISY_LOGGERS}
    logs.install_trace_context("dbsbm-test")
    yield
    logs.uninstall_otlp_bridge()
    logs.uninstall_record_redaction()
    for handler in root.handlers[:]:
        if handler not in saved[0]:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(saved[1])
    for name, level in noisy.items():
        logging.getLogger(name).setLevel(level)


def _capture(formatter: logging.Formatter) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logger = logging.getLogger("tests.logs.capture")
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger, stream


def _json_lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_line_has_fields_and_trace_ids_inside_a_span() -> None:
    """A JSON line carries time, level, logger, location, service and the span's ids."""
    logger, stream = _capture(logs.JsonFormatter())
    with tracer.start_as_current_span("cmd") as span:
        logger.info("bet %s placed", 42, extra={"guild_id": 7, "command": "bet"})
    (line,) = _json_lines(stream)
    context = span.get_span_context()
    assert line["message"] == "bet 42 placed"
    assert line["level"] == "INFO"
    assert line["logger"] == "tests.logs.capture"
    assert line["module"] == "test_logs"
    assert line["function"] == "test_json_line_has_fields_and_trace_ids_inside_a_span"
    assert isinstance(line["line"], int)
    assert str(line["timestamp"]).endswith("Z")
    assert line["trace_id"] == format(context.trace_id, "032x")
    assert line["span_id"] == format(context.span_id, "016x")
    assert line["service.name"] == "dbsbm-test"
    assert line["guild_id"] == 7 and line["command"] == "bet"


def test_json_line_outside_a_span_has_no_trace_ids() -> None:
    """Without an active span the trace fields are left out rather than zero-filled."""
    logger, stream = _capture(logs.JsonFormatter())
    logger.info("idle")
    (line,) = _json_lines(stream)
    assert "trace_id" not in line and "span_id" not in line


def test_json_line_carries_the_exception_and_odd_extras() -> None:
    """Exceptions are formatted into one field; non-JSON extras are still serialized."""
    logger, stream = _capture(logs.JsonFormatter())
    try:
        raise ValueError("bad odds")
    except ValueError:
        logger.exception("settle failed", extra={"when": Path("/x"), "tags": ["a", "b"]})
    (line,) = _json_lines(stream)
    assert "ValueError: bad odds" in str(line["exception"])
    assert line["tags"] == ["a", "b"]
    assert line["when"] == "/x"


def test_json_line_survives_extras_orjson_refuses() -> None:
    """Int dict keys, a NaN and an int over 64 bits still give one parseable line."""
    logger, stream = _capture(logs.JsonFormatter())
    logger.info("odd", extra={"by_league": {39: 2}, "ratio": float("nan")})
    logger.info("big", extra={"snowflake_sum": 2**70})
    first, second = _json_lines(stream)
    assert first["by_league"] == {"39": 2} and first["ratio"] is None
    assert second["snowflake_sum"] == 2**70


def test_text_formatter_is_readable_with_trace_ids() -> None:
    """Development lines are plain text with the trace and span ids in brackets."""
    logger, stream = _capture(logs.TextFormatter())
    with tracer.start_as_current_span("cmd") as span:
        logger.debug("hello %s", "world")
    text = stream.getvalue()
    assert "DEBUG" in text and "tests.logs.capture" in text and "hello world" in text
    assert format(span.get_span_context().trace_id, "032x") in text
    assert not text.startswith("{")


@pytest.mark.parametrize(
    ("env", "expected_formatter", "expected_level"),
    [
        ({"DBSBM_ENV": "production"}, logs.JsonFormatter, logging.INFO),
        ({"DBSBM_ENV": "development"}, logs.TextFormatter, logging.DEBUG),
        ({"DBSBM_ENV": "production", "DBSBM_LOG_FORMAT": "text"}, logs.TextFormatter, logging.INFO),
        (
            {"DBSBM_ENV": "development", "DBSBM_LOG_FORMAT": "json"},
            logs.JsonFormatter,
            logging.DEBUG,
        ),
        ({}, logs.JsonFormatter, logging.INFO),
    ],
)
def test_mode_and_level_follow_dbsbm_env(
    monkeypatch: pytest.MonkeyPatch,
    env: dict[str, str],
    expected_formatter: type,
    expected_level: int,
) -> None:
    """DBSBM_ENV picks JSON/INFO or text/DEBUG; DBSBM_LOG_FORMAT overrides the format."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    logs.configure_logging()
    root = logging.getLogger()
    ours = [h for h in root.handlers if getattr(h, "_dbsbm", False)]
    assert len(ours) == 1
    assert type(ours[0].formatter) is expected_formatter
    assert root.level == expected_level


def test_mode_argument_wins_and_reconfiguring_replaces_our_handlers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """mode= overrides the environment; a second call leaves one handler of ours."""
    monkeypatch.setenv("DBSBM_ENV", "production")
    logs.configure_logging(mode="text", level="WARNING")
    logs.configure_logging(mode="text", level="WARNING")
    root = logging.getLogger()
    ours = [h for h in root.handlers if getattr(h, "_dbsbm", False)]
    assert len(ours) == 1 and isinstance(ours[0].formatter, logs.TextFormatter)
    assert root.level == logging.WARNING


def test_unknown_dbsbm_env_warns_once_and_falls_back_to_production(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """DBSBM_ENV=staging gives one warning naming the variable and production behaviour."""
    monkeypatch.setenv("DBSBM_ENV", "qa-unknown")
    with caplog.at_level(logging.WARNING, logger="dbsbm_instrumentation.logs"):
        assert logs.resolve_environment() == "production"
        assert logs.resolve_environment() == "production"
    warnings = [r for r in caplog.records if "DBSBM_ENV" in r.getMessage()]
    assert len(warnings) == 1


def test_rotating_file_respects_size_and_count(tmp_path: Path) -> None:
    """The log file rotates at max_bytes and keeps backup_count old files."""
    path = tmp_path / "logs" / "bot.log"
    logs.configure_logging(mode="json", file=path, max_bytes=2_000, backup_count=2)
    logger = logging.getLogger("tests.logs.rotation")
    for i in range(200):
        logger.warning("line %d with some padding to fill the file quickly", i)
    files = sorted(p.name for p in path.parent.iterdir())
    assert files == ["bot.log", "bot.log.1", "bot.log.2"]
    assert all(p.stat().st_size <= 2_200 for p in path.parent.iterdir())
    json.loads(path.read_text().splitlines()[-1])


def test_noisy_libraries_are_lowered_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    """discord, asyncio, urllib3 and aiohttp.access log at WARNING in production only."""
    monkeypatch.setenv("DBSBM_ENV", "production")
    logs.configure_logging()
    for name in logs.NOISY_LOGGERS:
        assert logging.getLogger(name).level == logging.WARNING
    assert not logging.getLogger("discord").isEnabledFor(logging.INFO)


def _memory_exporter() -> InMemoryLogRecordExporter:
    return InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]  # upstream's is unannotated


def test_otlp_bridge_exports_records_without_a_root_handler() -> None:
    """Records reach the LoggerProvider and the bot's handler redacted, with trace context,
    and root stays empty so a later logging.basicConfig(handlers=...) still takes effect."""
    exporter = _memory_exporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(
        SimpleLogRecordProcessor(RedactingLogRecordExporter(exporter))
    )
    root = logging.getLogger()
    before = root.handlers[:]
    logs.install_otlp_bridge(provider)
    assert root.handlers == before
    stream = io.StringIO()
    saved = root.handlers[:]
    root.handlers = []
    try:
        logging.basicConfig(handlers=[logging.StreamHandler(stream)], format="%(message)s")
        assert len(root.handlers) == 1  # basicConfig was not a no-op
        with tracer.start_as_current_span("cmd") as span:
            logging.getLogger("bot").warning("login password=%s", "hunter2", extra={"k": 1})
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers = saved
    assert stream.getvalue() == "login password=****\n"  # the bot's own handler: redacted
    (exported,) = [r.log_record for r in exporter.get_finished_logs()]
    assert exported.body == "login password=****"
    assert exported.trace_id == span.get_span_context().trace_id
    assert exported.attributes is not None
    assert exported.attributes["k"] == 1
    assert not set(logs.TRACE_FIELDS) & set(exported.attributes)


def test_otlp_bridge_skips_opentelemetry_own_records() -> None:
    """The SDK's own warnings (exporter retries) are never fed back into the export."""
    exporter = _memory_exporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    logs.install_otlp_bridge(provider)
    logging.getLogger("opentelemetry.exporter.otlp").warning("retrying")
    logging.getLogger("bot").warning("kept")
    assert [r.log_record.body for r in exporter.get_finished_logs()] == ["kept"]


def test_logged_exception_carries_its_error_type_and_code() -> None:
    """logger.exception() of a taxonomy error: the JSON line and the OTLP record get its
    error.type and dbsbm.error.code; an unknown exception is UNKNOWN_ERROR; extras win."""
    exporter = _memory_exporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    logs.install_otlp_bridge(provider)
    logger, stream = _capture(logs.JsonFormatter())
    for exc, extra in (
        (RateLimitException("odds API", retry_after=3), {}),
        (KeyError("game"), {}),
        (ValueError("x"), {ERROR_CODE: "MINE"}),
    ):
        try:
            raise exc
        except Exception:
            logger.exception("failed", extra=extra)
    lines = _json_lines(stream)
    assert [(line["error.type"], line[ERROR_CODE]) for line in lines[:2]] == [
        ("dbsbm_resilience.errors.RateLimitException", "RATE_LIMITED"),
        ("KeyError", "UNKNOWN_ERROR"),
    ]
    assert (lines[2]["error.type"], lines[2][ERROR_CODE]) == ("ValueError", "MINE")
    exported = [r.log_record.attributes or {} for r in exporter.get_finished_logs()]
    assert exported[0][ERROR_CODE] == "RATE_LIMITED"


def _plain_capture() -> tuple[logging.Logger, io.StringIO, list[logging.LogRecord]]:
    """A logger whose handler is the bot's kind (stdlib Formatter) and keeps its records."""
    records: list[logging.LogRecord] = []

    class Keep(logging.StreamHandler[io.StringIO]):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)
            super().emit(record)

    stream = io.StringIO()
    handler = Keep(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s %(detail)s"))
    logger = logging.getLogger("tests.logs.bot")
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger, stream, records


def test_clean_record_reaches_handlers_untouched() -> None:
    """With nothing to mask, msg and args stay the very objects the caller passed."""
    logs.install_record_redaction()
    logger, stream, records = _plain_capture()
    args = ("alice", 2.5, {"guild": 7})
    logger.info("user %s bet at odds %s in %s", *args, extra={"detail": "cache key=odds:42"})
    (record,) = records
    assert record.msg == "user %s bet at odds %s in %s"
    assert record.args == args and all(a is b for a, b in zip(record.args, args, strict=True))
    assert (
        stream.getvalue() == "INFO user alice bet at odds 2.5 in {'guild': 7} cache key=odds:42\n"
    )


def test_bots_own_handler_gets_records_redacted_in_message_extras_and_traceback() -> None:
    """configure_logging alone (no OTLP export) masks secrets for every handler, the bot's too."""
    logs.configure_logging(mode="text")
    logger, stream, records = _plain_capture()
    logger.warning(
        "connecting with password=%s to %s",
        "hunter2",
        "mysql://u:pw@db/x",
        extra={"detail": "token=abc123"},
    )
    try:
        raise ConnectionError("cannot reach redis://:s3cret@cache:6379/0")
    except ConnectionError:
        logger.exception("lost cache", extra={"detail": ""})
    output = stream.getvalue()
    # An unquoted value runs to the next key (here the URL's scheme): "to" goes with it.
    assert output.startswith(
        "WARNING connecting with password=**** mysql://u:****@db/x token=****\n"
        "ERROR lost cache \nTraceback"
    )
    assert "redis://:****@cache" in output
    for secret in ("hunter2", ":pw@", "abc123", "s3cret"):
        assert secret not in output
    assert records[0].args is None  # frozen: a handler re-rendering msg % args gets no secret


def test_unrenderable_message_is_left_for_the_handler_to_report(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A bad format string never raises into the bot's logging call; logging reports it."""
    logs.install_record_redaction()
    logger, _, records = _plain_capture()
    logger.info("odds %d", "not a number", extra={"detail": ""})
    assert records[0].msg == "odds %d" and records[0].args == ("not a number",)
    assert "--- Logging error ---" in capsys.readouterr().err
