"""Secret scrubbing for everything that leaves the process: log lines, OTLP logs, spans.

Precompiled rules cover every secret shape DBSBM handles (Discord bot tokens,
``password=``/``"password": "..."`` pairs, ``Authorization: Bearer|Bot|Basic`` and API-key
headers, DSNs with a password); a rule's regex runs only when its trigger substring is in
the text. :func:`redact` returns the very same string object when nothing matched, so
callers can tell "clean" from "changed" with ``is`` and copy telemetry only when needed.

The exporter wrappers run in the batch processors' worker threads, so span and log
redaction costs the bot's own threads nothing; the log formatters in
:mod:`dbsbm_instrumentation.logs` redact the finished line (one scan per line), and
:func:`dbsbm_instrumentation.logs.redact_record` scrubs each record before the bot's own
handlers see it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import Status

MASK = "****"

# Why not one big alternation: CPython's ``re`` loses its literal-prefix fast scan on an
# alternation (and on IGNORECASE), which measured ~100 us for a 300-character line. So
# each rule starts with a literal, runs on the lower-cased text (same offsets), and only
# when its trigger substring (and a ":" or "=") is present: a clean 60-character
# message costs a few hundred ns.
_QUOTE = r"(?:\\?[\"'])?"
_SEP = rf"{_QUOTE}\s*[:=]\s*{_QUOTE}"
_BARE_VALUE = r"[^\s&,;'\"\\}]+"
# After an opening quote the value runs to the closing quote (spaces included).
_VALUE = rf"(?:(?<=[\"'])[^\"'\\]*|{_BARE_VALUE})"

# (trigger substring, pattern with a ``keep`` prefix and the ``secret`` to mask)
_RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (trigger, re.compile(pattern))
    for trigger, pattern in (
        # scheme://user:PASSWORD@host  (mysql://, redis://, amqp:// ...)
        ("://", r"(?P<keep>://[^\s:/@'\"]*:)(?P<secret>[^\s@/'\"]+)(?=@)"),
        # Authorization: Bearer|Bot|Basic VALUE  (header line, dict or JSON form)
        (
            "authoriz",
            (
                rf"(?P<keep>authorization{_SEP}(?:bearer|bot|basic|token)\s+)"
                rf"(?P<secret>{_BARE_VALUE})"
            ),
        ),
        # x-apisports-key / x-rapidapi-key / api_key / apikey: VALUE (prefix checked below)
        ("key", rf"(?P<keep>key{_SEP})(?P<secret>{_VALUE})"),
        # password=VALUE, "password": "VALUE", passwd, mysql_password ...
        ("pass", rf"(?P<keep>pass(?:word|wd)?{_SEP})(?P<secret>{_VALUE})"),
        ("pwd", rf"(?P<keep>pwd{_SEP})(?P<secret>{_VALUE})"),
        ("secret", rf"(?P<keep>secret{_SEP})(?P<secret>{_VALUE})"),
        ("token", rf"(?P<keep>token{_SEP})(?P<secret>{_VALUE})"),
    )
)
# "key" alone is too common (cache keys): only these spellings hold secrets.
_KEY_PREFIXES = ("api", "api_", "api-", "apisports-", "rapidapi-")

# Query parameters ("password = %s") are not secrets; masking them only hides the SQL.
_PLACEHOLDER = re.compile(r"%s|%\(\w+\)s|\?|\$\d+|:\w+|\*+")

# Attribute keys that name a credential: their whole string value is masked, whatever it
# looks like. Why: a captured header is a bare value (contrib's aiohttp-client records
# ``x-apisports-key: abc`` as ``http.request.header.x_apisports_key = ("abc",)``), which no
# value-shape rule can recognise. The collector's redaction/secrets processor blocks the
# same keys with this same pattern (tests/deploy/test_collector.py keeps them equal).
SECRET_KEY_PATTERN = (
    r"password|passwd|secret|authorization|cookie|api[_-]?key|apisports[_-]key"
    r"|rapidapi[_-]key|token"
)
_SECRET_KEY = re.compile(SECRET_KEY_PATTERN, re.IGNORECASE)
_secret_keys: dict[str, bool] = {}  # attribute keys are a small, fixed set: decide once
_MAX_KEYS = 4096

# Discord bot token, case-sensitive; the hint (a literal ".") finds candidates cheaply.
_TOKEN = re.compile(r"(?<![\w-])[MN][A-Za-z\d]{23,25}\.[\w-]{6}\.[\w-]{27,38}")
_TOKEN_HINT = re.compile(r"\.[\w-]{6}\.[\w-]{27}")
_TOKEN_MIN_LENGTH = 1 + 23 + 1 + 6 + 1 + 27


def _secret_spans(text: str) -> list[tuple[int, int]]:
    """Offsets of every secret value in ``text`` (may overlap; merged by the caller)."""
    spans: list[tuple[int, int]] = []
    if len(text) >= _TOKEN_MIN_LENGTH and "." in text and _TOKEN_HINT.search(text) is not None:
        spans.extend(match.span() for match in _TOKEN.finditer(text))
    if "=" not in text and ":" not in text:
        return spans  # every other rule needs a key followed by ":" or "="
    lower = text.lower()
    if len(lower) != len(text):  # a few non-ASCII letters change length when lowered
        lower = "".join(ch.lower() if len(ch.lower()) == 1 else ch for ch in text)
    for trigger, pattern in _RULES:
        if trigger not in lower:
            continue
        for match in pattern.finditer(lower):
            start = match.start()
            if trigger == "key" and not lower[max(0, start - 10) : start].endswith(_KEY_PREFIXES):
                continue
            if trigger != "://" and start and lower[start - 1].isalnum() and trigger != "key":
                continue  # "bypass=1" is not a password
            secret = match.group("secret")
            if secret and not _PLACEHOLDER.fullmatch(secret):
                spans.append(match.span("secret"))
    return spans


def redact(text: str) -> str:
    """``text`` with every secret masked; the same object when there was nothing to mask."""
    if len(text) < 5:  # "pwd=x" is the shortest secret we mask
        return text
    spans = _secret_spans(text)
    if not spans:
        return text
    spans.sort()
    parts: list[str] = []
    position = 0
    for start, end in spans:
        if end <= position:
            continue
        parts.append(text[position : max(start, position)])
        parts.append(MASK)
        position = end
    parts.append(text[position:])
    return "".join(parts)


def contains_secret(text: str) -> bool:
    """True when :func:`redact` would change ``text``."""
    return bool(_secret_spans(text))


def redact_value(value: Any) -> Any:
    """An attribute value with strings (also inside sequences) redacted; same object if clean."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, (list, tuple)):
        items = [redact_value(item) for item in value]
        if all(new is old for new, old in zip(items, value)):
            return value
        return type(value)(items)
    return value


def _names_secret(key: str) -> bool:
    secret = _secret_keys.get(key)
    if secret is None:
        secret = _SECRET_KEY.search(key) is not None
        if len(_secret_keys) < _MAX_KEYS:
            _secret_keys[key] = secret
    return secret


def _mask_value(value: Any) -> Any:
    """Every string in ``value`` (also inside sequences) masked; other types kept."""
    if isinstance(value, str):
        return MASK if value else value
    if isinstance(value, (list, tuple)):
        return type(value)(_mask_value(item) for item in value)
    return value


def redact_attributes(attributes: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A redacted copy of ``attributes``, or None when nothing needed masking.

    Values under a key that names a credential (:data:`SECRET_KEY_PATTERN`) are masked
    whole; every other string value is scanned for secret shapes.
    """
    if not attributes:
        return None
    changed: dict[str, Any] | None = None
    for key, value in attributes.items():
        if _names_secret(key):
            new = _mask_value(value)
            if new == value:  # already masked, or no string in it
                continue
        else:
            new = redact_value(value)
            if new is value:
                continue
        if changed is None:
            changed = dict(attributes)
        changed[key] = new
    return changed


def redact_span(span: ReadableSpan) -> ReadableSpan:
    """``span`` itself when clean, else a copy with attributes, events and status scrubbed."""
    attributes = redact_attributes(span.attributes)
    events: list[Event] | None = None
    for index, event in enumerate(span.events):
        event_attributes = redact_attributes(event.attributes)
        if event_attributes is not None:
            if events is None:
                events = list(span.events)
            events[index] = Event(event.name, event_attributes, event.timestamp)
    status = span.status
    if status.description:
        description = redact(status.description)
        if description is not status.description:
            status = Status(status.status_code, description)
    if attributes is None and events is None and status is span.status:
        return span
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=attributes if attributes is not None else span.attributes,
        events=events if events is not None else span.events,
        links=span.links,
        kind=span.kind,
        status=status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


def redact_log_record(record: ReadableLogRecord) -> None:
    """Scrub an exported log record's body and attributes in place.

    In place because the batch handed to the exporter is the SDK's last use of it.
    """
    log_record = record.log_record
    body = log_record.body
    if isinstance(body, str):
        log_record.body = redact(body)
    attributes = log_record.attributes
    if attributes:
        changed = redact_attributes(attributes)
        if changed is not None:
            # BoundedAttributes from a ReadWriteLogRecord is mutable; a plain dict works too.
            for key, value in changed.items():
                if value is not attributes.get(key):
                    attributes[key] = value  # type: ignore[index]


class RedactingSpanExporter(SpanExporter):
    """Wraps a span exporter so ``db.query.text`` and every string attribute is scrubbed."""

    def __init__(self, exporter: SpanExporter) -> None:
        self._exporter = exporter

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self._exporter.export([redact_span(span) for span in spans])

    def shutdown(self) -> None:
        self._exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._exporter.force_flush(timeout_millis)


class RedactingLogRecordExporter(LogRecordExporter):
    """Wraps a log exporter so bodies and attributes (exception text too) are scrubbed."""

    def __init__(self, exporter: LogRecordExporter) -> None:
        self._exporter = exporter

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        for record in batch:
            redact_log_record(record)
        return self._exporter.export(batch)

    def shutdown(self) -> None:
        self._exporter.shutdown()  # type: ignore[no-untyped-call]

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._exporter.force_flush(timeout_millis)
