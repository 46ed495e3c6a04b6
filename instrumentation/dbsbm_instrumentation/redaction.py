"""Secret scrubbing for everything that leaves the process: log lines, OTLP logs, spans.

What a secret is lives in :mod:`dbsbm_instrumentation.secret_rules`, the definition the
collector's redaction is generated from too; this module applies it. :func:`redact`
masks every secret shape in a text and returns the very same string object when nothing
matched, so callers can tell "clean" from "changed" with ``is`` and copy telemetry only
when needed. :func:`redact_field` and :func:`redact_attributes` also mask whole values
whose *key* names a credential, at any nesting depth of maps and sequences.

The exporter wrappers run in the batch processors' worker threads, so span and log
redaction costs the bot's own threads nothing; the log formatters in
:mod:`dbsbm_instrumentation.logs` redact each field (the JSON one) or the finished line (the
text one), and :func:`dbsbm_instrumentation.logs.redact_record` scrubs each record before
the bot's own handlers see it. A clean line is the common case, so :func:`redact` runs a
rule's pattern only on a text that holds one of the rule's trigger words.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import ahocorasick_rs
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
    min_length: int
    # A substring is looked for with ``in``, a regex with ``search``.
    hint: re.Pattern[str] | str | None
    # Group 1 is the kept text before the secret; 0 when there is none (the secret starts
    # the match), so the pattern starts with the secret itself: re's prefix scan then
    # works, which a leading empty group defeats.
    before: int
    ignore_case: bool
    starts: frozenset[int]  # indexes into _WORDS
    gate: re.Pattern[str] | None
    # Rules with the same start words and gate share the places found for them in a text.
    places: int


def _compile(rule: secret_rules.Rule) -> _Rule:
    hint: re.Pattern[str] | str | None = None
    if rule.hint:
        hint = rule.hint if re.escape(rule.hint) == rule.hint else re.compile(rule.hint, re.ASCII)
    starts = frozenset(_WORDS.index(word) for word in rule.starts)
    gate = re.compile(rule.gate, re.ASCII) if rule.gate else None
    places = _place_kinds.setdefault((rule.starts, rule.gate), len(_place_kinds))
    if rule.before:
        pattern = re.compile(rule.pattern, re.ASCII)
        before = 1
    else:
        pattern = re.compile(f"{rule.secret}({rule.after})", re.ASCII)
        before = 0
    return _Rule(pattern, rule.min_length, hint, before, rule.ignore_case, starts, gate, places)


_place_kinds: dict[tuple[tuple[str, ...], str], int] = {}


# Every trigger and start word of the rules, lower-cased, found in one pass over the
# lower-cased text by an Aho-Corasick automaton: a loop of ``in`` tests scans the text once
# per word (there are about fifty), which made a long clean line cost several times what
# the patterns themselves do. A one-character trigger (the Discord token's ".") is counted
# instead: it occurs in most lines, and listing each occurrence would cost more.
_WORDS: list[str] = sorted(
    {
        word.lower()
        for rule in secret_rules.RULES
        for word in (*rule.triggers, *rule.starts)
        if len(word) > 1
    }
)
_FINDER = ahocorasick_rs.AhoCorasick(_WORDS, implementation=ahocorasick_rs.Implementation.DFA)
_RULES = tuple(_compile(rule) for rule in secret_rules.RULES)
# Per kind of places: the bits of the rules that share them.
_SHARING = tuple(
    sum(1 << i for i, rule in enumerate(_RULES) if rule.places == kind)
    for kind in range(len(_place_kinds))
)
# Per word: (bit of a rule it triggers, the trigger as written when case matters, else None).
_TRIGGERS: tuple[tuple[tuple[int, str | None], ...], ...] = tuple(
    tuple(
        (1 << i, None if rule.ignore_case else trigger)
        for i, rule in enumerate(secret_rules.RULES)
        for trigger in rule.triggers
        if trigger.lower() == word
    )
    for word in _WORDS
)
_CHAR_TRIGGERS = tuple(
    (trigger, 1 << i, rule.min_length, rule.trigger_count)
    for i, rule in enumerate(secret_rules.RULES)
    for trigger in rule.triggers
    if len(trigger) == 1
)
_SHORTEST = 5  # "pwd=x" is the shortest text a rule matches
# Below this length no one-character trigger's rule can match: most lines skip their loop.
_CHAR_SHORTEST = min((min_length for _, _, min_length, _ in _CHAR_TRIGGERS), default=0)


def _lower(text: str) -> str:
    lower = text.lower()
    if len(lower) != len(text):  # a few non-ASCII letters change length when lowered
        lower = "".join(ch.lower() if len(ch.lower()) == 1 else ch for ch in text)
    return lower


def redact(text: str) -> str:
    """``text`` with every secret masked; the same object when there was nothing to mask.

    A clean text (the common case: this runs on every log line) costs one lower-casing, one
    automaton pass and a ``count``; a rule's pattern runs only where its trigger is.
    """
    n = len(text)
    if n < _SHORTEST:
        return text
    lower = text.lower()
    if len(lower) != n:  # offsets must match the text's
        lower = _lower(text)
    run = 0  # bits of the rules whose trigger occurs
    found = _FINDER.find_matches_as_indexes(lower, True)  # overlapping: every occurrence
    for word, start, _ in found:
        for bit, exact in _TRIGGERS[word]:
            if exact is None or text.startswith(exact, start):
                run |= bit
    if n >= _CHAR_SHORTEST:
        for char, bit, min_length, count in _CHAR_TRIGGERS:
            if n >= min_length and text.count(char) >= count:
                run |= bit
    if not run:
        return text
    spans = _secret_spans(text, lower, run, found)
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


def _secret_spans(
    text: str, lower: str, run: int, found: list[tuple[int, int, int]]
) -> list[tuple[int, int]]:
    """Offsets of every secret the rules in ``run`` find (may overlap).

    ``found``: the automaton's (word, start, end) for every trigger and start word.

    Written as one flat loop: on a clean text with a trigger word ("token" in prose) the
    Python around the patterns costs more than the patterns.
    """
    n = len(text)
    spans: list[tuple[int, int]] = []
    places_of: dict[int, list[int]] = {}
    while run:
        bit = run & -run  # the lowest rule left: rules run in their order
        run ^= bit
        pattern, min_length, hint, before, ignore_case, starts, gate, kind = _RULES[
            bit.bit_length() - 1
        ]
        if n < min_length:
            continue
        haystack = lower if ignore_case else text
        if hint is not None:
            if isinstance(hint, str):
                if hint not in haystack:
                    continue
            elif not hint.search(haystack):
                continue
        if starts:
            places = places_of.get(kind)
            if places is None:
                places = [start for word, start, _ in found if word in starts]
                if gate is not None:
                    places = [place for place in places if gate.match(haystack, place)]
                places_of[kind] = places
            if not places:
                run &= ~_SHARING[kind]  # the rules sharing these places have none either
                continue
            match_at = pattern.match
            for place in places:
                match = match_at(haystack, place)
                if match is not None:
                    start = match.end(1) if before else match.start()
                    end = match.start(before + 1)
                    if end > start:
                        spans.append((start, end))
        else:
            for match in pattern.finditer(haystack):
                start = match.end(1) if before else match.start()
                end = match.start(before + 1)
                if end > start:
                    spans.append((start, end))
    return spans


def contains_secret(text: str) -> bool:
    """True when :func:`redact` would change ``text``."""
    return redact(text) is not text


def names_secret(key: str) -> bool:
    """True when an attribute or field called ``key`` holds a credential."""
    secret = _secret_keys.get(key)
    if secret is None:
        secret = _SECRET_KEY.search(key) is not None
        if len(_secret_keys) < _MAX_KEYS:
            _secret_keys[key] = secret
    return secret


def _mask_value(value: Any, depth: int = 0) -> Any:
    """``value`` masked whole: every string and object in it, also inside sequences and maps.

    Numbers, booleans and None are kept. Any other object is masked too: what it renders
    as (its ``str``, or a log line's JSON) may be the credential. The same object when
    nothing changed, found by identity (an array's ``==`` has no truth value).
    """
    if isinstance(value, str):
        return MASK if value else value
    if value is None or isinstance(value, (int, float)):
        return value
    if depth >= MAX_DEPTH or not isinstance(value, (Mapping, list, tuple)):
        return MASK
    if isinstance(value, Mapping):
        masked = {key: _mask_value(item, depth + 1) for key, item in value.items()}
        if all(masked[key] is item for key, item in value.items()):
            return value
        return masked
    items = [_mask_value(item, depth + 1) for item in value]
    if all(new is old for new, old in zip(items, value, strict=True)):
        return value
    return type(value)(items)


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
            new = redact_field(key, item, depth + 1)
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


def redact_field(key: object, value: Any, depth: int = 0) -> Any:
    """The value of field ``key`` redacted: masked whole if ``key`` names a credential.

    For log extras, attributes and map items; the same object when nothing needed masking.
    A key that is not a string (a map's int key) names nothing: its value is only scanned.
    """
    # names_secret inlined for the common key: this runs for every log extra.
    secret = _secret_keys.get(key) if key.__class__ is str else None
    if secret is None:
        secret = isinstance(key, str) and names_secret(key)
    if secret:
        return _mask_value(value, depth)
    if value.__class__ is str:
        return redact(value)
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
            # Typed as a read-only Mapping, but the BoundedAttributes of a ReadWriteLogRecord
            # is mutable (a plain dict too), and replacing it would lose its limits.
            for key, value in changed.items():
                if value is not attributes.get(key):
                    attributes[key] = value  # type: ignore[index]  # mutable at runtime, see above


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
        self._exporter.shutdown()  # type: ignore[no-untyped-call]  # the SDK leaves it untyped

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._exporter.force_flush(timeout_millis)
