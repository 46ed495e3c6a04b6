"""Secret scrubbing: every secret shape, in log lines, OTLP log records and span attributes."""

from __future__ import annotations

import io
import json
import logging
from dataclasses import dataclass

import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from dbsbm_instrumentation import logs
from dbsbm_instrumentation.redaction import (
    RedactingLogRecordExporter,
    RedactingSpanExporter,
    contains_secret,
    redact,
)

TOKEN = "MTA1234567890123456789012.GhIjKl.abcdefghijklmnopqrstuvwxyz0123456"

# (text with a secret, the secret, what must survive)
SECRETS = [
    (f"connecting with {TOKEN}", TOKEN, "connecting with ****"),
    ("login password=hunter2&user=bob", "hunter2", "login password=****&user=bob"),
    ('payload {"password": "hunter 2", "user": "bob"}', "hunter 2", '"password": "****"'),
    ("{'password': 'hunter2'}", "hunter2", "{'password': '****'}"),
    ("Authorization: Bearer abc.def-123", "abc.def-123", "Authorization: Bearer ****"),
    ("headers={'Authorization': 'Bot xyz987'}", "xyz987", "'Authorization': 'Bot ****'"),
    ("x-apisports-key: deadbeef1234", "deadbeef1234", "x-apisports-key: ****"),
    ("{'x-apisports-key': 'deadbeef1234'}", "deadbeef1234", "'x-apisports-key': '****'"),
    ("mysql://dbsbm:s3cr3t@db:3306/bets", "s3cr3t", "mysql://dbsbm:****@db:3306/bets"),
    ("redis://:r3dis@cache:6379/0", "r3dis", "redis://:****@cache:6379/0"),
    ("MYSQL_PASSWORD=abc123 user=bob", "abc123", "MYSQL_PASSWORD=**** user=bob"),
    ("password=two words, ok", "two words", "password=****, ok"),
]

CLEAN = [
    "user 123 placed bet 99 on fixture 1234 odds 2.5",
    "cache key: bets:guild:1 monkey=2",
    "SELECT id FROM users WHERE password = %s",
    "GET https://v3.football.api-sports.io/fixtures?league=39 took 0.2s",
    "http://collector:4318/v1/traces",
]


@pytest.mark.parametrize(("text", "secret", "kept"), SECRETS)
def test_each_secret_shape_is_masked(text: str, secret: str, kept: str) -> None:
    """Tokens, passwords, auth headers, API keys and DSN passwords are masked in place."""
    redacted = redact(text)
    assert secret not in redacted
    assert kept in redacted
    assert contains_secret(text)


@pytest.mark.parametrize("text", CLEAN)
def test_ordinary_text_is_returned_unchanged(text: str) -> None:
    """Text without secrets comes back as the same object (no copy, no false positive)."""
    assert redact(text) is text
    assert not contains_secret(text)


def test_secret_inside_a_json_encoded_string_is_masked() -> None:
    """A secret already escaped inside a JSON line (\\"password\\": \\"x\\") is masked too."""
    line = json.dumps({"message": '{"password": "hunter2"}'})
    assert "hunter2" not in redact(line)
    json.loads(redact(line))


@pytest.mark.parametrize("formatter", [logs.JsonFormatter(), logs.TextFormatter()])
@pytest.mark.parametrize(("text", "secret", "kept"), SECRETS)
def test_log_lines_are_redacted_in_message_args_extras_and_exceptions(
    formatter: logging.Formatter,
    text: str,
    secret: str,
    kept: str,
) -> None:
    """Neither the JSON nor the text line contains the secret, wherever it was logged."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logger = logging.getLogger("tests.logs.redaction")
    logger.handlers = [handler]
    logger.propagate = False
    logger.warning(text)
    logger.warning("args: %s", text)
    logger.warning("extras", extra={"detail": text, "nested": {"inner": [text]}})
    try:
        raise RuntimeError(text)
    except RuntimeError:
        logger.exception("failed")
    output = stream.getvalue()
    assert secret not in output
    assert output.count("****") >= 3  # the text format has no extras


def test_span_attributes_events_and_status_are_redacted_before_export() -> None:
    """db.query.text, other string attributes, event attributes and status are scrubbed."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(RedactingSpanExporter(exporter)))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("query") as span:
        span.set_attribute("db.query.text", "SELECT 1 FROM users WHERE password='hunter2'")
        span.set_attribute("url.full", "mysql://dbsbm:s3cr3t@db/bets")
        span.set_attribute("http.request.header.authorization", ["Bot abc", f"{TOKEN}"])
        span.set_attribute("retries", 2)
        span.add_event("exception", {"exception.message": "auth failed: password=hunter2"})
    with tracer.start_as_current_span("clean") as clean:
        clean.set_attribute("db.query.text", "SELECT 1")
    redacted, untouched = exporter.get_finished_spans()
    assert redacted.attributes["db.query.text"] == "SELECT 1 FROM users WHERE password='****'"
    assert redacted.attributes["url.full"] == "mysql://dbsbm:****@db/bets"
    assert TOKEN not in str(redacted.attributes["http.request.header.authorization"])
    assert redacted.attributes["retries"] == 2
    assert redacted.events[0].attributes["exception.message"] == "auth failed: password=****"
    assert redacted.context == span.get_span_context()
    assert untouched.attributes["db.query.text"] == "SELECT 1"


def test_attributes_named_as_credentials_are_masked_whole() -> None:
    """A captured header is a bare value no shape rule sees: its key decides."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(RedactingSpanExporter(exporter)))
    with provider.get_tracer("test").start_as_current_span("GET") as span:
        span.set_attribute("http.request.header.x_apisports_key", ("d41d8cd98f00b204",))
        span.set_attribute("http.request.header.cookie", ["session=abc"])
        span.set_attribute("dbsbm.api.token_count", 3)
        span.set_attribute("http.request.header.accept", ("application/json",))
        span.set_attribute("dbsbm.cache.key", "odds:42")
    (exported,) = exporter.get_finished_spans()
    assert exported.attributes["http.request.header.x_apisports_key"] == ("****",)
    assert exported.attributes["http.request.header.cookie"] == ("****",)
    assert exported.attributes["dbsbm.api.token_count"] == 3  # not a string: kept
    assert exported.attributes["http.request.header.accept"] == ("application/json",)
    assert exported.attributes["dbsbm.cache.key"] == "odds:42"
    assert span.attributes["http.request.header.x_apisports_key"] == ("d41d8cd98f00b204",)


def test_exported_log_records_are_redacted_in_body_and_attributes() -> None:
    """An OTLP log record's body, string attributes and exception text are scrubbed."""
    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(
        SimpleLogRecordProcessor(RedactingLogRecordExporter(exporter))
    )
    logs.install_otlp_bridge(provider)
    try:
        try:
            raise RuntimeError(f"token {TOKEN}")
        except RuntimeError:
            logging.getLogger("tests.logs.otlp").exception(
                "failed x-apisports-key: %s", "deadbeef", extra={"dsn": "mysql://u:pw1@h/db"}
            )
    finally:
        logs.uninstall_otlp_bridge()
    (record,) = [r.log_record for r in exporter.get_finished_logs()]
    assert record.body == "failed x-apisports-key: ****"
    assert record.attributes["dsn"] == "mysql://u:****@h/db"
    assert TOKEN not in record.attributes["exception.message"]
    assert TOKEN not in record.attributes["exception.stacktrace"]


def _json_logger(name: str) -> tuple[logging.Logger, logging.Handler, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    logger = logging.getLogger(name)
    logger.handlers = [handler]
    logger.propagate = False
    return logger, handler, stream


@pytest.mark.parametrize("record_redaction", [False, True])
def test_json_line_masks_extras_named_as_credentials_at_any_depth(
    record_redaction: bool,
) -> None:
    """A value under a credential key is masked whole, however plain it looks or deep it is."""
    logger, _, stream = _json_logger("tests.logs.fields")
    if record_redaction:
        logs.install_record_redaction()
    try:
        logger.warning(
            "login",
            extra={
                "db_password": "plain words",
                "headers": {"Authorization": "abc123", "Accept": "application/json"},
                "batch": [{"api_key": "k1"}, {"id": 7}],
                "token_count": 3,
                "cache_key": "odds:42",
                7: "password=hunter2",  # not a string key: its value is still scanned
            },
        )
    finally:
        logs.uninstall_record_redaction()
    line = json.loads(stream.getvalue())
    assert line["db_password"] == "****"
    assert line["headers"] == {"Authorization": "****", "Accept": "application/json"}
    assert line["batch"] == [{"api_key": "****"}, {"id": 7}]
    assert line["token_count"] == 3  # not a string: kept
    assert line["cache_key"] == "odds:42"
    assert line["7"] == "password=****"


def test_record_redaction_masks_credential_extras_for_the_bots_own_handlers() -> None:
    """A plain stdlib formatter naming the field sees the mask, not the value."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s %(db_password)s %(headers)s"))
    logger = logging.getLogger("tests.logs.own_handler")
    logger.handlers = [handler]
    logger.propagate = False
    logs.install_record_redaction()
    try:
        logger.warning(
            "connect", extra={"db_password": "plain words", "headers": {"Cookie": "sid=1"}}
        )
    finally:
        logs.uninstall_record_redaction()
    assert stream.getvalue() == "connect **** {'Cookie': '****'}\n"


def test_a_message_changed_after_record_redaction_is_redacted_by_the_formatter() -> None:
    """The formatter skips only the very text record redaction found clean."""
    logger, handler, stream = _json_logger("tests.logs.changed")

    def add_secret(record: logging.LogRecord) -> bool:
        record.msg = f"{record.msg} password=hunter2"
        return True

    handler.addFilter(add_secret)
    logs.install_record_redaction()
    try:
        logger.warning("retrying login")
    finally:
        logs.uninstall_record_redaction()
    assert json.loads(stream.getvalue())["message"] == "retrying login password=****"


def test_a_clean_message_reaches_the_json_line_unchanged_with_record_redaction() -> None:
    logger, _, stream = _json_logger("tests.logs.clean")
    logs.install_record_redaction()
    try:
        for text in CLEAN:
            logger.warning("%s", text)
    finally:
        logs.uninstall_record_redaction()
    assert [json.loads(line)["message"] for line in stream.getvalue().splitlines()] == CLEAN


@dataclass
class _Login:
    user: str
    note: str
    attempts: dict[str, int]


def test_json_line_scans_objects_as_written_and_always_parses() -> None:
    """An object's JSON rendering is scanned; a number under a credential-like key that
    the scan masks leaves a parsable line (that value kept as masked text)."""
    logger, _, stream = _json_logger("tests.logs.objects")
    login = _Login("bob", "retry with password=hunter2", {"session_id": 5})
    logger.warning("login", extra={"login": login, "token_count": 3})
    line = json.loads(stream.getvalue())
    assert "hunter2" not in stream.getvalue()
    assert line["token_count"] == 3
    assert "password=****" in str(line["login"])
    assert "bob" in str(line["login"])


class _Elementwise:
    """Compares like an array: == gives no truth value."""

    def __eq__(self, other: object) -> bool:
        raise ValueError("The truth value of an array is ambiguous")

    __hash__ = object.__hash__


class _Password:
    def __str__(self) -> str:
        return "hunter2"


@pytest.mark.parametrize("record_redaction", [False, True])
def test_an_object_under_a_credential_key_is_masked_and_never_breaks_the_log_call(
    record_redaction: bool,
) -> None:
    """Whatever an object renders as under a credential key is masked; == is never asked."""
    logger, _, stream = _json_logger("tests.logs.objects_as_secrets")
    if record_redaction:
        logs.install_record_redaction()
    try:
        logger.warning(
            "embedding",
            extra={"token_ids": _Elementwise(), "db_password": _Password(), "pwd": [3, None]},
        )
    finally:
        logs.uninstall_record_redaction()
    line = json.loads(stream.getvalue())
    assert line["token_ids"] == "****" and line["db_password"] == "****"
    assert line["pwd"] == [3, None]  # numbers and None are kept
