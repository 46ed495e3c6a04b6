"""Every corpus secret through every path out of the bot, against the real built collector.

Paths: the JSON log line on the console stream and in the rotating file
(``configure_logging``); OTLP straight from the process to a collector file sink
(``direct``); the process through the collector on the shipped config to the sink
(``via``); and a sender that redacts nothing, through the same collector (``raw``: the
collector alone must mask). Each secret is logged as a message, a format argument, an
extra (also nested), an exception and a span and span-event attribute (also in a
sequence). The look-alikes must arrive byte for byte as sent, bodies and attributes.
"""

from __future__ import annotations

import io
import json
import logging
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import LogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter
from opentelemetry.semconv.attributes.db_attributes import DB_QUERY_TEXT, DB_SYSTEM_NAME
from opentelemetry.semconv.attributes.service_attributes import SERVICE_NAME

from dbsbm_instrumentation import logs
from dbsbm_instrumentation.redaction import RedactingLogRecordExporter, RedactingSpanExporter
from tests import services
from tests.redaction.corpus import CLEAN, FIELD_SECRETS, SECRETS

pytestmark = pytest.mark.integration

BASE_CONFIG = services.REPO / "deploy/otel-collector/otelcol-config.yml"
FAST_ENV = {
    "OTELCOL_BATCH_TIMEOUT": "200ms",
    "OTELCOL_SPAN_METRICS_FLUSH_INTERVAL": "1s",
    "OTELCOL_HOSTMETRICS_INTERVAL": "60s",
    # Nothing listens there: metrics are not under test, their export just fails.
    "PROMETHEUS_REMOTE_WRITE_URL": f"http://{services.LOCALHOST}:9/api/v1/write",
}
# A database statement longer than any truncation, its literal under a credential column.
LONG_SQL_SECRET = "longSqlLiteral77"
LONG_SQL = (
    "UPDATE guild_settings SET note = '"
    + "x" * 5000
    + f"', api_key = '{LONG_SQL_SECRET}' WHERE id = 7"
)
ALL_SECRETS = [
    *(case.secret for case in SECRETS),
    *FIELD_SECRETS.values(),
    LONG_SQL_SECRET,
]


@dataclass
class Sink:
    """What the file sink received, decoded: records and spans by service name."""

    directory: Path
    texts: dict[str, str] = field(default_factory=dict)

    def read(self) -> None:
        for kind in ("logs", "traces"):
            path = self.directory / f"{kind}.json"
            lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
            # Decoded and re-encoded without escapes, so a leak is found by substring.
            decoded = [json.dumps(json.loads(line), ensure_ascii=False) for line in lines]
            self.texts[kind] = "\n".join(decoded)

    def records(self, service: str) -> list[dict[str, Any]]:
        return [
            record
            for resource in self._batches("logs", "resourceLogs")
            if _service(resource) == service
            for scope in resource.get("scopeLogs", [])
            for record in scope.get("logRecords", [])
        ]

    def spans(self, service: str) -> list[dict[str, Any]]:
        return [
            span
            for resource in self._batches("traces", "resourceSpans")
            if _service(resource) == service
            for scope in resource.get("scopeSpans", [])
            for span in scope.get("spans", [])
        ]

    def _batches(self, kind: str, key: str) -> Iterator[dict[str, Any]]:
        for line in self.texts.get(kind, "").splitlines():
            yield from json.loads(line).get(key, [])


def _value(any_value: dict[str, Any]) -> Any:
    """An OTLP JSON AnyValue as Python."""
    if "stringValue" in any_value:
        return any_value["stringValue"]
    if "kvlistValue" in any_value:
        return _attributes(any_value["kvlistValue"].get("values", []))
    if "arrayValue" in any_value:
        return [_value(v) for v in any_value["arrayValue"].get("values", [])]
    if "intValue" in any_value:
        return int(any_value["intValue"])
    return next(iter(any_value.values()), None)


def _attributes(pairs: list[dict[str, Any]]) -> dict[str, Any]:
    return {pair["key"]: _value(pair.get("value", {})) for pair in pairs}


def _service(resource: dict[str, Any]) -> str:
    return str(_attributes(resource.get("resource", {}).get("attributes", [])).get(SERVICE_NAME))


def poll(check: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not arrive within {timeout:.0f} s")
        time.sleep(0.5)


@dataclass
class Stack:
    sink: Sink
    direct: str  # the sink's OTLP/HTTP endpoint
    via: str  # the collector's, on the shipped config, exporting to the sink


@pytest.fixture
def stack(collector_factory: Callable[..., services.CollectorService], tmp_path: Path) -> Stack:
    sink_dir = tmp_path / "sink"
    sink_dir.mkdir()
    sink = collector_factory(
        configs=[services.SINK_CONFIG], env={"SINK_DIR": str(sink_dir)}, name="otelcol-sink"
    )
    main = collector_factory(
        configs=[BASE_CONFIG],
        env={
            "TEMPO_OTLP_ENDPOINT": f"{services.LOCALHOST}:{sink.otlp_grpc_port}",
            "LOKI_OTLP_ENDPOINT": sink.otlp_http_endpoint,
            **FAST_ENV,
        },
    )
    return Stack(Sink(sink_dir), sink.otlp_http_endpoint, main.otlp_http_endpoint)


def _providers(
    endpoint: str, service: str, redacting: bool
) -> tuple[TracerProvider, LoggerProvider]:
    resource = Resource.create({SERVICE_NAME: service})
    span_exporter: SpanExporter = OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces")
    log_exporter: LogRecordExporter = OTLPLogExporter(endpoint=f"{endpoint}/v1/logs")
    if redacting:
        span_exporter = RedactingSpanExporter(span_exporter)
        log_exporter = RedactingLogRecordExporter(log_exporter)
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(log_exporter))
    return tracer_provider, logger_provider


def _send_spans(tracer_provider: TracerProvider) -> None:
    tracer = tracer_provider.get_tracer("tests.redaction")
    for index, case in enumerate(SECRETS):
        with tracer.start_as_current_span(f"secret {index}") as span:
            span.set_attribute("dbsbm.text", case.text)
            span.set_attribute("dbsbm.texts", [case.text, "ok"])
            span.add_event(
                "exception",
                {"exception.message": case.text, "exception.stacktrace": f"Trace:\n{case.text}"},
            )
    with tracer.start_as_current_span("fields") as span:
        for key, value in FIELD_SECRETS.items():
            span.set_attribute(key, value)
    with tracer.start_as_current_span("UPDATE guild_settings") as span:
        span.set_attribute(DB_SYSTEM_NAME, "mysql")
        span.set_attribute(DB_QUERY_TEXT, LONG_SQL)
    for index, text in enumerate(CLEAN):
        with tracer.start_as_current_span(f"clean {index}") as span:
            span.set_attribute("dbsbm.text", text)
    tracer_provider.shutdown()


def _log_through_logging(logger: logging.Logger) -> None:
    """Every case the ways a bot logs: message, argument, extras, exception."""
    for case in SECRETS:
        logger.warning(case.text)
        logger.warning("args: %s", case.text)
        logger.warning("extras", extra={"detail": case.text, "nested": {"inner": [case.text]}})
        try:
            raise RuntimeError(case.text)
        except RuntimeError:
            logger.exception("failed")
    logger.warning(
        "fields", extra={"headers": {"Authorization": f"Bearer {FIELD_SECRETS['api_key']}"}}
    )
    logger.warning("nested fields", extra={"context": {"nested": dict(FIELD_SECRETS)}})
    for text in CLEAN:
        logger.warning(text, extra={"detail": text})


def _emit_raw(logger_provider: LoggerProvider) -> None:
    """The same data from a sender that redacts nothing."""
    otel_logger = logger_provider.get_logger("tests.redaction")

    def emit(body: str, attributes: dict[str, Any]) -> None:
        otel_logger.emit(
            LogRecord(
                body=body,
                severity_number=SeverityNumber.WARN,
                severity_text="WARN",
                attributes=attributes,
            )
        )

    for case in SECRETS:
        emit(
            case.text,
            {
                "detail": case.text,
                "nested": {"inner": [case.text]},
                "exception.stacktrace": f"Traceback:\n{case.text}",
            },
        )
    emit("fields", {**FIELD_SECRETS, "headers": {"Authorization": "Bearer " + "rawHdr99x"}})
    emit("nested fields", {"context": {"nested": dict(FIELD_SECRETS)}})
    for text in CLEAN:
        emit(text, {"detail": text})
    logger_provider.shutdown()


@pytest.fixture
def json_logging(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[io.StringIO, Path]]:
    """configure_logging in production mode, its console stream captured, plus a file."""
    console = io.StringIO()
    monkeypatch.setattr(sys, "stderr", console)
    monkeypatch.setattr(sys, "stdout", console)
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, logging.getLogRecordFactory())
    # Restoring the factory below uninstalls the trace context: logs must know it is gone.
    monkeypatch.setattr(logs, "_factory_installed", logs._factory_installed)
    log_file = tmp_path / "bot.log"
    logs.configure_logging(mode="json", file=log_file, service_name="dbsbm-test")
    try:
        yield console, log_file
    finally:
        logs.uninstall_otlp_bridge()
        logs.uninstall_record_redaction()
        for handler in root.handlers:
            if handler not in saved[0]:
                handler.close()
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        logging.setLogRecordFactory(saved[2])


def test_no_secret_leaves_by_any_path_and_look_alikes_arrive_intact(
    stack: Stack, json_logging: tuple[io.StringIO, Path]
) -> None:
    console, log_file = json_logging
    logger = logging.getLogger("tests.redaction.paths")
    expected: dict[str, int] = {}
    for path, endpoint in (("direct", stack.direct), ("via", stack.via)):
        tracer_provider, logger_provider = _providers(endpoint, path, redacting=True)
        logs.install_otlp_bridge(logger_provider)
        _log_through_logging(logger)
        logs.uninstall_otlp_bridge()
        logger_provider.shutdown()
        _send_spans(tracer_provider)
        expected[path] = 4 * len(SECRETS) + 2 + len(CLEAN)
    tracer_provider, logger_provider = _providers(stack.via, "raw", redacting=False)
    _emit_raw(logger_provider)
    _send_spans(tracer_provider)
    expected["raw"] = len(SECRETS) + 2 + len(CLEAN)
    span_count = len(SECRETS) + 2 + len(CLEAN)

    def complete() -> bool:
        stack.sink.read()
        return all(
            len(stack.sink.records(service)) >= count
            and len(stack.sink.spans(service)) >= span_count
            for service, count in expected.items()
        )

    poll(complete, "every record and span at the sink")

    lines = console.getvalue()
    assert lines.count("\n") >= expected["direct"] * 2  # both paths logged to the console
    places = {
        "console JSON": lines,
        "rotating file": log_file.read_text(encoding="utf-8"),
        "sink logs": stack.sink.texts["logs"],
        "sink traces": stack.sink.texts["traces"],
    }
    key_named = set(FIELD_SECRETS.values())
    leaks = [
        f"{secret!r} in {where}"
        for secret in ALL_SECRETS
        for where, text in places.items()
        if secret in text
        # Extras named as credentials in JSON lines: see the test below.
        and not (secret in key_named and where in ("console JSON", "rotating file"))
    ]
    assert not leaks, "\n".join(leaks)

    for service in ("direct", "via", "raw"):
        bodies = {r.get("body", {}).get("stringValue") for r in stack.sink.records(service)}
        details = [
            _attributes(r.get("attributes", [])).get("detail") for r in stack.sink.records(service)
        ]
        span_texts = [
            _attributes(s.get("attributes", [])).get("dbsbm.text")
            for s in stack.sink.spans(service)
        ]
        for text in CLEAN:
            assert text in bodies, f"{service}: body changed: {text!r}"
            assert text in details, f"{service}: attribute changed: {text!r}"
            assert text in span_texts, f"{service}: span attribute changed: {text!r}"
    console_messages = {json.loads(line)["message"] for line in lines.splitlines()}
    assert set(CLEAN) <= console_messages


def test_json_lines_mask_extras_named_as_credentials(
    json_logging: tuple[io.StringIO, Path],
) -> None:
    console, log_file = json_logging
    logger = logging.getLogger("tests.redaction.fields")
    for key, value in FIELD_SECRETS.items():
        logger.warning("field", extra={key: value})
        logger.warning("nested field", extra={"context": {"request": {key: value}}})
        logger.warning("field in a sequence", extra={"items": [{"id": 1}, {key: value}]})
    for text in (console.getvalue(), log_file.read_text(encoding="utf-8")):
        for value in FIELD_SECRETS.values():
            assert value not in text
