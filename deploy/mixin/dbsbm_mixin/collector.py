"""The collector's secret redaction, rendered from the process's own secret definition.

``dbsbm_instrumentation.secret_rules`` says what a secret is; the process applies it in
``dbsbm_instrumentation.redaction`` and the collector applies it with the processors
written here, so the two cannot drift. Only the block between the ``BEGIN generated:
redaction`` and ``END generated`` markers of ``deploy/otel-collector/otelcol-config.yml``
is written; the rest of that file stays hand-written.

Three processors, in pipeline order:

* ``transform/redact_secrets``: every value-shape rule as an OTTL ``replace_*`` statement
  over span, span-event and log attributes and string log bodies. It keeps the rule's
  context (``password=****``, ``Bearer ****``, ``mysql://user:****@host``).
* ``redaction/secrets``: keys that name a credential masked whole, and the same rules as
  ``blocked_values`` (which mask the whole match). It reaches what OTTL cannot: values
  nested in map or sequence attributes (``redact_all_types`` reads them as JSON) and map
  log bodies at any depth. Text the transform already masked matches no rule again.
* ``redaction/db_statements``: SQL literals sanitised in the database-statement span
  attributes only (traces pipeline); a log body is never rewritten as SQL.
"""

from __future__ import annotations

from pathlib import Path

from dbsbm_instrumentation import secret_rules

REPO = Path(__file__).resolve().parents[3]
CONFIG = Path("deploy/otel-collector/otelcol-config.yml")
BEGIN = "  # BEGIN generated: redaction"
END = "  # END generated"
# ``${1}****${2}``: both kept groups around the mask; ``$$`` is the config's escape of ``$``.
REPLACEMENT = "$${1}" + secret_rules.MASK + "$${2}"


def _config_text(text: str) -> str:
    """``text`` with ``$`` escaped for the collector's config resolver."""
    return text.replace("$", "$$")


def _yaml_single(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ottl_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _statement(function: str, target: str, rule: secret_rules.Rule, suffix: str = "") -> str:
    mode = ', "value"' if function == "replace_all_patterns" else ""
    pattern = _ottl_string(_config_text(rule.re2_pattern))
    call = f'{function}({target}{mode}, {pattern}, "{REPLACEMENT}"){suffix}'
    return f"          - {_yaml_single(call)}"


def _statements(context: str, targets: list[tuple[str, str, str]]) -> list[str]:
    lines = [f"      - context: {context}", "        statements:"]
    for function, target, suffix in targets:
        for rule in secret_rules.RULES:
            statement = _statement(function, target, rule, suffix)
            lines += [statement, statement] if rule.rescan else [statement]
    return lines


def redaction_block() -> str:
    """The generated processors, indented as entries of ``processors:``."""
    attributes = "replace_all_patterns"
    names = ", ".join(rule.name for rule in secret_rules.RULES)
    lines = [
        f"{BEGIN} (deploy/mixin/dbsbm_mixin/collector.py renders it from",
        "  # dbsbm_instrumentation/secret_rules.py; edit those and run `make generate`).",
        "  # Value shapes masked in place, keeping their context (`password=****`,",
        "  # `Bearer ****`, `scheme://user:****@host`): one statement per rule (two for a rule",
        "  # whose kept text after the secret may hold the next key), in order",
        f"  # {names}.",
        "  transform/redact_secrets:",
        "    error_mode: ignore",
        "    trace_statements:",
        *_statements("span", [(attributes, "span.attributes", "")]),
        *_statements("spanevent", [(attributes, "spanevent.attributes", "")]),
        "    log_statements:",
        *_statements(
            "log",
            [
                (attributes, "log.attributes", ""),
                ("replace_pattern", "log.body", " where IsString(log.body)"),
            ],
        ),
        "",
        "  # Keys naming a credential masked whole, and the same shapes again (whole match",
        "  # masked) where OTTL does not reach: values nested in map and sequence attributes",
        "  # (read as JSON: redact_all_types) and map log bodies at any depth.",
        "  redaction/secrets:",
        "    allow_all_keys: true",
        "    redact_all_types: true",
        "    blocked_key_patterns:",
        f"      - {_yaml_single(_config_text(f'(?i).*({secret_rules.KEY_NAME_PATTERN}).*'))}",
        "    blocked_values:",
        *(
            f"      - {_yaml_single(_config_text(rule.re2_whole_pattern))}"
            for rule in secret_rules.RULES
        ),
        "    summary: silent",
        "",
        "  # SQL literals (`WHERE pw = 'x'` becomes `WHERE pw = ?`) in database statements",
        "  # only: traces pipeline, spans with db.system.name set. Never on log bodies.",
        "  redaction/db_statements:",
        "    allow_all_keys: true",
        "    db_sanitizer:",
        "      sql:",
        "        enabled: true",
        f"        attributes: [{', '.join(secret_rules.DB_STATEMENT_ATTRIBUTES)}]",
        "    summary: silent",
        END,
    ]
    return "\n".join(lines) + "\n"


def render(config_text: str) -> str:
    """``config_text`` with its generated redaction block replaced."""
    start = config_text.find(BEGIN)
    end = config_text.find(END, start)
    if start < 0 or end < 0:
        raise ValueError(f"{CONFIG}: no '{BEGIN.strip()}' ... '{END.strip()}' block")
    end = config_text.index("\n", end) + 1
    return config_text[:start] + redaction_block() + config_text[end:]


def files() -> dict[Path, str]:
    return {CONFIG: render((REPO / CONFIG).read_text(encoding="utf-8"))}
