"""Property tests of the redaction functions (hypothesis, bounded: a few seconds in CI).

Text is built from fragments of every rule (keys, separators, quotes, token prefixes,
masks, placeholders) mixed with arbitrary unicode, so the generator reaches the rules'
edges rather than only random noise.
"""

from __future__ import annotations

import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dbsbm_instrumentation import redaction, secret_rules
from dbsbm_instrumentation.redaction import (
    MASK,
    contains_secret,
    redact,
    redact_attributes,
    redact_field,
    redact_value,
)
from tests.redaction.corpus import DISCORD_TOKEN, SECRETS

FRAGMENTS = [
    "password",
    "db_PASSWORD",
    "token",
    "api_key",
    "x-apisports-key",
    "secret",
    "Authorization",
    "Bearer ",
    "Basic ",
    "Bot ",
    "cookie",
    "=",
    ":",
    ": ",
    " ",
    "\t",
    "\n",
    "'",
    '"',
    '\\"',
    "\\",
    "&",
    ";",
    ",",
    "}",
    "://",
    "@",
    "user",
    "%s",
    "?",
    "$1",
    ":name",
    MASK,
    "*",
    "AKIA",
    "IOSFODNN7EXAMPLE",
    "eyJ",
    "ghp_",
    "sk-",
    "xoxb-",
    "-----BEGIN RSA PRIVATE KEY-----",
    "-----END RSA PRIVATE KEY-----",
    "syntax to use near '",
    "' at line 1",
    "Duplicate entry '",
    "' for key",
    "IDENTIFIED BY '",
    "discord.com/api/webhooks/123/",
    "0123456789abcdef0123",
    DISCORD_TOKEN,
    "İ",  # lower-cases to two characters
    "ß",
    "東京",
]
texts = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=12)), max_size=24).map(
    "".join
)
FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Nested values are costlier to generate than the redaction is to run.
FUZZ_NESTED = settings(FUZZ, max_examples=120)


@FUZZ
@given(texts)
def test_redact_never_raises_grows_boundedly_and_is_idempotent(text: str) -> None:
    redacted = redact(text)
    assert len(redacted) <= 4 * len(text)  # each masked secret is at least one character
    assert redact(redacted) == redacted
    assert not contains_secret(redacted)
    if redacted == text:
        assert redacted is text  # clean text is never copied


def _reference_redact(text: str) -> str:
    """Every rule run over the whole text (no anchors, triggers, hints or length shortcuts),
    the secrets masked as redact() masks them."""
    lower = redaction._lower(text)
    spans = []
    for rule in secret_rules.RULES:
        haystack = lower if rule.ignore_case else text
        compiled = re.compile(rule.pattern, re.ASCII)
        if rule.starts:  # tried wherever a match can start: it may overlap the one before
            matches = [compiled.match(haystack, i) for i in range(len(haystack))]
        else:
            matches = list(compiled.finditer(haystack))
        for match in matches:
            if match is not None and match.start(2) > match.end(1):
                spans.append((match.end(1), match.start(2)))
    if not spans:
        return text
    spans.sort()
    parts, position = [], 0
    for start, end in spans:
        if start < position:
            position = max(position, end)
            continue
        parts += [text[position:start], MASK]
        position = end
    return "".join([*parts, text[position:]])


@FUZZ
@given(texts)
def test_the_shortcuts_never_skip_a_match(text: str) -> None:
    """Anchors, trigger words, hints and minimum lengths only skip rules that cannot match."""
    assert redact(text) == _reference_redact(text)


@FUZZ
@given(st.sampled_from(SECRETS), texts, texts)
def test_a_secret_is_masked_whatever_surrounds_it(case: Any, before: str, after: str) -> None:
    """Line noise before and after a corpus case never lets its secret through."""
    text = f"{before}\n{case.text}\n{after}"
    assert case.secret not in redact(text)


scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), texts, st.binary())
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=4).map(tuple),
        st.dictionaries(
            st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=8)), children, max_size=4
        ),
    ),
    max_leaves=20,
)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, (list, tuple)):
        return [s for item in value for s in _strings(item)]
    return []


@FUZZ_NESTED
@given(
    st.dictionaries(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=8)), values, max_size=6)
)
def test_attribute_redaction_never_raises_and_is_idempotent(attributes: dict[str, Any]) -> None:
    redacted = redact_attributes(attributes)
    if redacted is None:
        return
    assert redacted.keys() == attributes.keys()
    assert redact_attributes(redacted) is None
    for text in _strings(redacted):
        assert not contains_secret(text)


@FUZZ_NESTED
@given(st.sampled_from(FRAGMENTS), values)
def test_field_redaction_keeps_types_and_masks_credentials_whole(key: str, value: Any) -> None:
    redacted = redact_field(key, value)
    assert type(redacted) is type(value) or redacted == MASK
    if redaction.names_secret(key):
        assert all(s in ("", MASK) for s in _strings(redacted))


def test_deep_and_cyclic_structures_are_bounded() -> None:
    """Nesting beyond MAX_DEPTH is masked whole, never a RecursionError."""
    deep: Any = "password=hunter2"
    for _ in range(10_000):
        deep = [deep]
    assert "hunter2" not in repr(redact_value(deep))
    cyclic: dict[str, Any] = {"detail": "token=abc123"}
    cyclic["self"] = cyclic
    assert "abc123" not in repr(redact_value(cyclic)["detail"])


def test_long_text_is_redacted_in_linear_time() -> None:
    """A megabyte of near-misses and one secret at the end: no regex backtracking blow-up."""
    text = ("password " * 50_000) + ("aws_key " * 20_000) + "password=hunter2"
    assert redact(text).endswith("password=" + MASK)
