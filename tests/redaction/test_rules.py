"""The secret definition itself: every corpus shape masked, look-alikes untouched, patterns
portable to the collector's RE2, and in step with detect-secrets and the collector config."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class

from dbsbm_instrumentation import secret_rules
from dbsbm_instrumentation.aiomysql.util import sanitize
from dbsbm_instrumentation.redaction import (
    MASK,
    SECRET_KEY_PATTERN,
    contains_secret,
    redact,
    redact_attributes,
)
from dbsbm_mixin import collector
from tests.redaction.corpus import CLEAN, FIELD_SECRETS, SECRETS, Secret

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / collector.CONFIG


def test_the_corpus_is_large_enough() -> None:
    assert len(SECRETS) >= 60
    assert len(CLEAN) >= 60
    assert len({case.secret for case in SECRETS}) == len(SECRETS)


@pytest.mark.parametrize("case", SECRETS, ids=lambda case: case.name)
def test_every_secret_shape_is_masked(case: Secret) -> None:
    """The secret is gone, a mask stands in its place, and masking again changes nothing."""
    redacted = redact(case.text)
    assert case.secret not in redacted
    assert MASK in redacted
    assert redact(redacted) == redacted
    assert not contains_secret(redacted)  # the collector's second pass finds nothing either


@pytest.mark.parametrize("text", CLEAN)
def test_look_alikes_come_back_as_the_same_object(text: str) -> None:
    assert redact(text) is text
    assert not contains_secret(text)


def test_fields_named_as_credentials_are_masked_at_any_depth() -> None:
    """Key names decide at the top level, inside maps and inside sequences of maps."""
    for key, value in FIELD_SECRETS.items():
        attributes = {key: value, "nested": {"deeper": [{key: value}]}, "count": 3}
        redacted = redact_attributes(attributes)
        assert redacted is not None
        assert value not in repr(redacted)
        assert redacted["count"] == 3
        assert attributes[key] == value  # the caller's mapping is not touched


def _matches(rule: secret_rules.Rule, text: str) -> bool:
    haystack = text.lower() if rule.ignore_case else text
    return re.search(rule.pattern, haystack, re.ASCII) is not None


@pytest.mark.parametrize("rule", secret_rules.RULES, ids=lambda rule: rule.name)
def test_every_rule_is_exercised_by_the_corpus(rule: secret_rules.Rule) -> None:
    assert any(_matches(rule, case.text) for case in SECRETS), f"no corpus case for {rule.name}"


# Go's regexp (RE2) refuses these; Python accepts them. Patterns must avoid them.
_RE2_REFUSES = [
    (r"\(\?[=!]", "lookahead"),
    (r"\(\?<[=!]", "lookbehind"),
    (r"\(\?>", "atomic group"),
    (r"\(\?P=", "named backreference"),
    (r"\\[1-9]", "backreference"),
    (r"[*+?}][+]", "possessive quantifier"),
    (r"\\Z", r"\Z (RE2 spells it \z)"),
    (r"\(\?[aiLmsux]*\)", "global inline flags (the collector adds (?i) itself)"),
]


@pytest.mark.parametrize("rule", secret_rules.RULES, ids=lambda rule: rule.name)
def test_patterns_stay_in_the_subset_python_and_re2_share(rule: secret_rules.Rule) -> None:
    """Compiles in Python with two groups; no construct RE2 refuses; counts within 1000.

    The collector compiles the same patterns when it starts: tests/deploy validates the
    shipped config with the built binary.
    """
    compiled = re.compile(rule.pattern, re.ASCII)
    assert compiled.groups == 2, "exactly (before) and (after) capture; use (?:...) inside"
    unescaped = re.sub(r"\\.", "", rule.pattern)
    for construct, what in _RE2_REFUSES:
        assert re.search(construct, rule.pattern) is None, f"{rule.name} uses a {what}"
    for pattern in (rule.pattern, rule.whole):
        for count in re.findall(r"\{(\d+)(?:,(\d*))?\}", pattern):
            assert all(int(n) <= 1000 for n in count if n), "RE2 repeats at most 1000 times"
    if rule.whole:
        assert re.compile(rule.whole, re.ASCII).groups == 0
        for construct, what in _RE2_REFUSES:
            assert re.search(construct, rule.whole) is None, f"{rule.name} uses a {what}"
    if rule.ignore_case:
        assert not re.search("[A-Z]", unescaped), "ignore_case rules are written in lower case"
        for trigger in rule.triggers:
            assert trigger == trigger.lower()


# Lines in detect-secrets' own test style, one or more per mirrored plugin.
_DETECT_SECRETS_SAMPLES = [
    "AKIAZZZZZZZZZZZZZZZZ",
    'aws_access_key = "AKIAZZZZZZZZZZZZZZZZ"',
    "https://username:password123@example.com",
    "MTk4NjIyNDgzNDcxOTI1MjQ4.Cl2FMQ.ZnCjm1XVW7vRze4b7Cq4se7kKWs",
    "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",
    "glpat-hellOworld380_testin",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "343ea45721923ed956e2b38c31db76aa-us30",
    "//registry.npmjs.org/:_authToken=npm_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "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",
    "-----BEGIN PRIVATE KEY-----",
    "pypi-AgEIcHlwaS5vcmcCJDEyMzQ1Njc4LTEyMzQtMTIzNC0xMjM0LTEyMzQ1Njc4OTAxMgACJXsicGVybWlzc2lvbnMiOiAidXNlciIsICJ2ZXJzaW9uIjogMX0AAAYgZmFrZQ",
    "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",
    "xoxb-34532454-e039d02840a0b9379c",
    "https://hooks.slack.com/services/Txxxxxxxx/Bxxxxxxxx/xxxxxxxxxxxxxxxxxxxxxxxx",
    "sk_live_ReTllpYQYfIZu2Jnf2lAPFjD",
    "110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw_",
]


def _flagged(line: str) -> set[str]:
    """The secret values detect-secrets' mirrored plugins find in ``line``."""
    found: set[str] = set()
    for plugin_class in get_mapping_from_secret_type_to_class().values():
        if plugin_class.__name__ not in secret_rules.DETECT_SECRETS_PLUGINS:
            continue
        for secret in plugin_class().analyze_line(filename="log.txt", line=line, line_number=1):
            if secret.secret_value:
                found.add(secret.secret_value)
    return found


def test_what_detect_secrets_flags_we_mask() -> None:
    """Our rules keep up with detect-secrets' plugins: whatever they flag is masked.

    For the private-key plugin, which flags the BEGIN line itself, the key body is masked.
    """
    lines = [*_DETECT_SECRETS_SAMPLES, *(case.text for case in SECRETS)]
    checked = 0
    for line in lines:
        redacted = redact(line)
        for value in _flagged(line):
            if value.startswith("BEGIN") and "PRIVATE KEY" in value:
                assert MASK in redacted or line.endswith("-----")
                continue
            checked += 1
            # Some occurrence, with its neighbours, is gone: a short flagged value ("p" of
            # "user:p@ss@host") is also a substring of what stays ("postgresql").
            starts = [m.start() for m in re.finditer(re.escape(value), line)]
            windows = [line[max(0, i - 1) : i + len(value) + 1] for i in starts]
            assert any(w not in redacted for w in windows), f"{value!r} left in {line!r}"
    assert checked >= len(_DETECT_SECRETS_SAMPLES)


def test_the_collector_config_holds_the_generated_block() -> None:
    """The shipped config's redaction block is exactly what the mixin renders now."""
    text = CONFIG.read_text(encoding="utf-8")
    assert collector.render(text) == text, "run `make generate`"


def test_the_collector_applies_every_rule_and_the_key_names() -> None:
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    processors = config["processors"]
    secrets = processors["redaction/secrets"]
    assert secrets["blocked_key_patterns"] == [f"(?i).*({SECRET_KEY_PATTERN}).*"]
    unescaped = [value.replace("$$", "$") for value in secrets["blocked_values"]]
    assert unescaped == [rule.re2_whole_pattern for rule in secret_rules.RULES]
    transform = processors["transform/redact_secrets"]
    (log_statements,) = transform["log_statements"]
    passes = sum(2 if rule.rescan else 1 for rule in secret_rules.RULES)
    assert len(log_statements["statements"]) == 2 * passes


def test_a_rule_whose_kept_tail_holds_the_next_key_matches_every_value_whole() -> None:
    """Where ``after`` consumes the next key, ``whole`` masks that pair's value too."""
    for rule in secret_rules.RULES:
        if rule.rescan:
            assert rule.whole, f"{rule.name}: an engine masking whole matches needs `whole`"
    (bare,) = [rule for rule in secret_rules.RULES if rule.name == "bare_pair"]
    text = "password=a b token=c d, user=bob"
    assert re.sub(bare.whole, MASK, text, flags=re.ASCII) == "****, user=bob"


def test_sql_sanitising_runs_on_database_statements_only() -> None:
    """No pipeline but traces has a db_sanitizer: log bodies are not SQL."""
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    sanitizers = {
        name
        for name, settings in config["processors"].items()
        if "db_sanitizer" in (settings or {})
    }
    assert sanitizers == {"redaction/db_statements"}
    db = config["processors"]["redaction/db_statements"]["db_sanitizer"]["sql"]
    assert db["attributes"] == list(secret_rules.DB_STATEMENT_ATTRIBUTES)
    for name, pipeline in config["service"]["pipelines"].items():
        used = sanitizers & set(pipeline.get("processors", []))
        assert (name == "traces") == bool(used), name


def test_every_rule_has_trigger_words_the_engine_can_find() -> None:
    """A rule runs only where a trigger occurs: each has one, in the case it is found in.

    Start places come from the lower-cased text, so only ``ignore_case`` rules have them.
    """
    for rule in secret_rules.RULES:
        assert rule.triggers, f"{rule.name} has no trigger: it would never run"
        assert all(rule.triggers), rule.name
        if rule.starts:
            assert rule.ignore_case, f"{rule.name}: start words are found lower-cased"


def test_a_database_statement_of_any_length_keeps_no_literal() -> None:
    """A literal the statement's length cut leaves open is sanitised, not kept raw."""
    query = "INSERT INTO notes VALUES ('hunter2 " + "x" * 5000 + "')"
    text, operation = sanitize(query)
    assert "hunter2" not in text
    assert operation == "INSERT"
