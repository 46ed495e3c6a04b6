"""The Finding model, severities and the rule catalogue every report and baseline keys on.

Rule IDs are the public contract (suppression comments, baselines, SARIF ``ruleId``), so
they never change meaning; a new check gets a new ID.
"""

from __future__ import annotations

import enum
import hashlib
import re
from dataclasses import dataclass, field


class Severity(enum.IntEnum):
    """Ordered so ``--fail-on`` is a comparison."""

    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        return cls[text.upper()]


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    severity: Severity
    summary: str
    fix: str
    engine: str  # what detects it: "bandit Bxxx", "detect-secrets <plugin>" or "dbsbm-audit"


RULES: dict[str, Rule] = {
    r.id: r
    for r in (
        Rule(
            "DBSBM-CRED-001",
            "hardcoded-password",
            Severity.HIGH,
            "Hardcoded password, token or secret assigned to a variable, keyword or default",
            "Read it from the environment (os.environ['NAME']) or a secret store and rotate "
            "the exposed value.",
            "bandit B105/B106/B107 (noise-filtered) + detect-secrets KeywordDetector (config)",
        ),
        Rule(
            "DBSBM-CRED-002",
            "hardcoded-api-key",
            Severity.HIGH,
            "Hardcoded API key or credential in a dict literal, header map, "
            "key-named variable or getenv() fallback",
            "Load the key from the environment, e.g. headers = {'x-apisports-key': "
            "os.environ['API_SPORTS_KEY']}, and rotate the exposed key.",
            "dbsbm-audit",
        ),
        Rule(
            "DBSBM-CRED-003",
            "credentials-in-url",
            Severity.HIGH,
            "URL or DSN (mysql://user:pw@host, host=db password=pw) with an embedded password",
            "Build the URL from parts read from the environment (user, password, host) or "
            "pass the password separately to the driver.",
            "detect-secrets BasicAuthDetector + dbsbm-audit (key=value DSNs, empty user names)",
        ),
        Rule(
            "DBSBM-CRED-004",
            "discord-bot-token",
            Severity.CRITICAL,
            "Discord bot token in source or config",
            "Reset the token in the Discord developer portal now, then read it from "
            "DISCORD_TOKEN in the environment.",
            "detect-secrets DiscordBotTokenDetector",
        ),
        Rule(
            "DBSBM-CRED-005",
            "known-format-secret",
            Severity.CRITICAL,
            "Secret in a well-known vendor format (AWS, GitHub, Slack, Stripe, OpenAI, JWT, "
            "private key, ...)",
            "Revoke the secret with its issuer, then load it from the environment or a "
            "secret store.",
            "detect-secrets vendor plugins",
        ),
        Rule(
            "DBSBM-CRED-006",
            "high-entropy-credential",
            Severity.MEDIUM,
            "High-entropy string in a credential-like place (key/auth-named variable, "
            "keyword or dict key)",
            "If this is a secret, move it to the environment; if not, suppress with "
            "'# dbsbm-audit: ignore[DBSBM-CRED-006]'.",
            "detect-secrets Base64/Hex HighEntropyString (credential-like context only)",
        ),
        Rule(
            "DBSBM-SQL-001",
            "sql-built-from-strings",
            Severity.HIGH,
            "SQL built with an f-string, %, + or .format() reaches a DB execute/fetch call",
            "Pass values as parameters: execute('... WHERE id = %s', (value,)); identifiers "
            "(table/column names) must come from a fixed allow-list.",
            "dbsbm-audit (replaces bandit B608, which also flags parameterized queries)",
        ),
        Rule(
            "DBSBM-DEBUG-001",
            "debug-mode-on",
            Severity.HIGH,
            "Web framework debug mode on (Flask run(debug=True), app.debug = True, "
            "app.config['DEBUG'] = True) or DEBUG=true in a production config",
            "Drive debug mode from the environment and keep it off in production.",
            "dbsbm-audit (replaces bandit B201, which needs a flask import in the same file)",
        ),
        Rule(
            "DBSBM-DEBUG-002",
            "debug-log-level",
            Severity.MEDIUM,
            "DEBUG log level set unconditionally or in a production config",
            "Pick the level from DBSBM_ENV / LOG_LEVEL: DEBUG in development, INFO in production.",
            "dbsbm-audit",
        ),
        Rule(
            "DBSBM-DEBUG-003",
            "secret-in-log-call",
            Severity.HIGH,
            "Secret-named value passed to a logging call",
            "Log that the secret is set (bool(token)) or a redacted form, never the value.",
            "dbsbm-audit",
        ),
        Rule(
            "DBSBM-EXEC-001",
            "eval-non-literal",
            Severity.HIGH,
            "eval() on non-literal input",
            "Use ast.literal_eval() for data, or a dispatch table for behaviour.",
            "bandit B307 (literal arguments filtered out)",
        ),
        Rule(
            "DBSBM-EXEC-002",
            "exec-non-literal",
            Severity.HIGH,
            "exec() on non-literal input",
            "Replace exec() with explicit code paths (imports, dispatch tables).",
            "bandit B102 (literal arguments filtered out)",
        ),
        Rule(
            "DBSBM-ENV-001",
            "required-env-missing",
            Severity.MEDIUM,
            "Required environment variable missing or empty",
            "Set it in the deployment environment (or the .env the bot loads).",
            "dbsbm-audit",
        ),
        Rule(
            "DBSBM-ENV-002",
            "weak-password",
            Severity.HIGH,
            "Password shorter than the minimum length or on the common-password list",
            "Generate a long random password (e.g. python -c 'import secrets; "
            "print(secrets.token_urlsafe(24))') and rotate it.",
            "dbsbm-audit",
        ),
        Rule(
            "DBSBM-ENV-003",
            "env-file-tracked",
            Severity.HIGH,
            ".env file tracked by git",
            "git rm --cached the file, add it to .gitignore, and rotate every secret it held.",
            "dbsbm-audit",
        ),
        Rule(
            "DBSBM-ENV-004",
            "env-file-permissions",
            Severity.MEDIUM,
            ".env file readable by group or others",
            "chmod 600 the file.",
            "dbsbm-audit",
        ),
    )
}

# The bandit tests behind (or replaced by) a rule, so bandit's ``# nosec B105`` keeps working.
BANDIT_IDS: dict[str, frozenset[str]] = {
    "DBSBM-CRED-001": frozenset({"B105", "B106", "B107"}),
    "DBSBM-SQL-001": frozenset({"B608"}),
    "DBSBM-DEBUG-001": frozenset({"B201"}),
    "DBSBM-EXEC-001": frozenset({"B307"}),
    "DBSBM-EXEC-002": frozenset({"B102"}),
}

_SUPPRESS_TAIL = re.compile(r"#\s*(dbsbm-audit:\s*ignore\b.*|nosec\b.*)$")


@dataclass(frozen=True)
class Finding:
    """One problem at one place; ``context`` is the line it was found on (never printed)."""

    rule_id: str
    file: str  # as displayed: the scanned root joined with the relative path
    line: int  # 0 when the finding is not about a line (process environment, file mode)
    message: str  # never contains the secret value itself
    rel_path: str = ""  # path relative to the scanned root: stable across checkouts
    context: str = field(default="", repr=False, compare=False)
    # Where the value came from, in this file: (line, what happened there), source first.
    flow: tuple[tuple[int, str], ...] = field(default=(), compare=False)

    @property
    def rule(self) -> Rule:
        return RULES[self.rule_id]

    @property
    def severity(self) -> Severity:
        return self.rule.severity

    @property
    def fingerprint(self) -> str:
        """Rule + file + normalized line text: survives code moving up or down the file."""
        content = " ".join(_SUPPRESS_TAIL.sub("", self.context).split())
        raw = "\0".join((self.rule_id, self.rel_path or self.file, content))
        return hashlib.sha256(raw.encode("utf-8", "surrogateescape")).hexdigest()[:32]


@dataclass(frozen=True)
class Skipped:
    """A file the scan could not read or parse; reported, never fatal."""

    file: str
    reason: str
