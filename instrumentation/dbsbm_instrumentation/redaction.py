"""Secret scrubbing for everything that leaves the process: log lines, OTLP logs, spans.

What a secret is lives in :mod:`dbsbm_instrumentation.secret_rules`, the definition the
collector's redaction is generated from too; this module applies it. :func:`redact`
masks every secret shape in a text and returns the very same string object when nothing
matched, so callers can tell "clean" from "changed" with ``is`` and copy telemetry only
when needed. :func:`redact_field` and :func:`redact_attributes` also mask whole values
whose *key* names a credential, at any nesting depth of maps and sequences.

The exporter wrappers run in the batch processors' worker threads, so span and log
redaction costs the bot's own threads nothing; the log formatters in
:mod:`dbsbm_instrumentation.logs` redact the finished line, and
:func:`dbsbm_instrumentation.logs.redact_record` scrubs each record before the bot's own
handlers see it. A clean short line is the common case, so :func:`redact` first rules out
most texts with a few substring tests (see :func:`_may_hold_secret`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import Status

from dbsbm_instrumentation import secret_rules
from dbsbm_instrumentation.secret_rules import MASK

__all__ = [
    "MASK",
    "SECRET_KEY_PATTERN",
    "RedactingLogRecordExporter",
    "RedactingSpanExporter",
    "contains_secret",
    "names_secret",
    "redact",
    "redact_attributes",
    "redact_field",
    "redact_log_record",
    "redact_span",
    "redact_value",
]

# Attribute keys that name a credential: their whole value is masked. The collector's
# redaction/secrets processor blocks the same keys (generated from the same pattern).
SECRET_KEY_PATTERN = secret_rules.KEY_NAME_PATTERN
_SECRET_KEY = re.compile(SECRET_KEY_PATTERN, re.IGNORECASE | re.ASCII)
_secret_keys: dict[str, bool] = {}  # attribute keys are a small, fixed set: decide once
_MAX_KEYS = 4096
# Containers nested deeper than this are masked whole rather than walked.
MAX_DEPTH = 32


class _Rule(NamedTuple):
    pattern: re.Pattern[str]
    triggers: tuple[str, ...]
    ignore_case: bool
    min_length: int
    needs_separator: bool


_RULES: tuple[_Rule, ...] = tuple(
    _Rule(
        re.compile(rule.pattern, re.ASCII),
        rule.triggers,
        rule.ignore_case,
        rule.min_length,
        rule.needs_separator,
    )
    for rule in secret_rules.RULES
)
_SHORTEST = min(5, *(len(t) for rule in secret_rules.RULES for t in rule.triggers if len(t) > 1))


def _lower(text: str) -> str:
    lower = text.lower()
    if len(lower) != len(text):  # a few non-ASCII letters change length when lowered
        lower = "".join(ch.lower() if len(ch.lower()) == 1 else ch for ch in text)
    return lower


def _may_hold_secret(text: str) -> bool:
    """False only when no rule can match: most log messages end here, in a few tests.

    Every rule needs ":" or "=", or one of a few characters or prefixes its tokens carry,
    or (for a long opaque value after a credential word, or ``Bearer``) one of those
    words; tests/redaction checks this against the rules on generated text.
    """
    if ":" in text or "=" in text or "-" in text or "_" in text or "/" in text:
        return True
    if "'" in text or '"' in text or "A" in text or "eyJ" in text:
        return True
    n = len(text)
    if n >= 59 and "." in text:
        return True
    if n < 15:
        return False
    lower = text.lower()
    return (
        "bearer" in lower
        or "key" in lower
        or "token" in lower
        or "secret" in lower
        or "pass" in lower
    )


def _secret_spans(text: str) -> list[tuple[int, int]]:
    """Offsets of every secret in ``text`` (may overlap; merged by the caller)."""
    spans: list[tuple[int, int]] = []
    n = len(text)
    has_separator = ":" in text or "=" in text
    lower: str | None = None
    for rule in _RULES:
        if n < rule.min_length or (rule.needs_separator and not has_separator):
            continue
        if rule.ignore_case:
            if lower is None:
                lower = _lower(text)
            haystack = lower
        else:
            haystack = text
        for trigger in rule.triggers:
            if trigger in haystack:
                break
        else:
            continue
        for match in rule.pattern.finditer(haystack):
            start, end = match.end(1), match.start(2)
            if end > start:
                spans.append((start, end))
    return spans


def redact(text: str) -> str:
    """``text`` with every secret masked; the same object when there was nothing to mask."""
    if len(text) < _SHORTEST or not _may_hold_secret(text):
        return text
    spans = _secret_spans(text)
    if not spans:
        return text
    spans.sort()
    parts: list[str] = []
    position = 0  # end of the text already copied or masked
    for start, end in spans:
        if start < position:  # overlaps the previous secret: one mask for both
            position = max(position, end)
            continue
        parts.append(text[position:start])
        parts.append(MASK)
        position = end
    parts.append(text[position:])
    return "".join(parts)


def contains_secret(text: str) -> bool:
    """True when :func:`redact` would change ``text``."""
    return len(text) >= _SHORTEST and _may_hold_secret(text) and bool(_secret_spans(text))


def names_secret(key: str) -> bool:
    """True when an attribute or field called ``key`` holds a credential."""
    secret = _secret_keys.get(key)
    if secret is None:
        secret = _SECRET_KEY.search(key) is not None
        if len(_secret_keys) < _MAX_KEYS:
            _secret_keys[key] = secret
    return secret


def _mask_value(value: Any, depth: int = 0) -> Any:
    """Every string in ``value`` (also inside sequences and maps) masked; other types kept."""
    if isinstance(value, str):
        return MASK if value else value
    if isinstance(value, (bytes, bytearray)):
        return MASK
    if depth >= MAX_DEPTH:
        return MASK
    if isinstance(value, Mapping):
        return {key: _mask_value(item, depth + 1) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_mask_value(item, depth + 1) for item in value)
    return value


def redact_value(value: Any, depth: int = 0) -> Any:
    """``value`` with every secret masked, the same object when clean.

    Strings are scanned for secret shapes; inside maps (at any depth) a key that names a
    credential has its whole value masked; sequences are walked. Containers deeper than
    :data:`MAX_DEPTH` (or cyclic) are masked whole.
    """
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        if depth >= MAX_DEPTH:
            return MASK
        changed: dict[Any, Any] | None = None
        for key, item in value.items():
            if isinstance(key, str):
                new = redact_field(key, item, depth + 1)
            else:
                new = redact_value(item, depth + 1)
            if new is not item:
                if changed is None:
                    changed = dict(value)
                changed[key] = new
        return value if changed is None else changed
    if isinstance(value, (list, tuple)):
        if depth >= MAX_DEPTH:
            return MASK
        items = [redact_value(item, depth + 1) for item in value]
        if all(new is old for new, old in zip(items, value, strict=True)):
            return value
        return type(value)(items)
    return value


def redact_field(key: str, value: Any, depth: int = 0) -> Any:
    """The value of field ``key`` redacted: masked whole if ``key`` names a credential.

    For log extras and attributes; the same object when nothing needed masking.
    """
    if names_secret(key):
        new = _mask_value(value, depth)
        return value if new == value else new
    return redact_value(value, depth)


def redact_attributes(attributes: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A redacted copy of ``attributes``, or None when nothing needed masking.

    Values under a key that names a credential (:data:`SECRET_KEY_PATTERN`) are masked
    whole; every other value is scanned (:func:`redact_value`), maps and sequences too.
    """
    if not attributes:
        return None
    changed: dict[str, Any] | None = None
    for key, value in attributes.items():
        new = redact_field(key, value)
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
