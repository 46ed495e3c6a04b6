"""What a secret is: the one definition the process and the collector both apply.

Data only. :mod:`dbsbm_instrumentation.redaction` compiles these rules with Python's
``re``; the mixin (``deploy/mixin/dbsbm_mixin/collector.py``) renders the same patterns
into the collector's OTTL statements and redaction processor, which use Go's RE2. So
every pattern stays in the subset both engines accept: no lookaround, no backreferences,
no possessive or atomic groups, ASCII classes only (Python compiles with ``re.ASCII``),
and exactly two capture groups, ``(kept before)secret(kept after)``: the text between
them is the secret, masked as :data:`MASK` (``${1}****${2}`` in the collector).

Two kinds of rule:

* **Key names** (:data:`KEY_NAME_PATTERN`): an attribute or field whose *name* says
  credential has its whole value masked, whatever the value looks like (a captured
  ``x-apisports-key`` header is a bare value no shape could recognise).
* **Value shapes** (:data:`RULES`): ``key=value`` / ``key: value`` / JSON pairs under a
  credential key, ``Authorization`` schemes, URLs with a password, and tokens whose
  shape gives them away (the providers' prefixes, after detect-secrets' plugins).

A secret never starts with ``**``, so masked output matches no rule again: redaction is
idempotent, and the collector's second pass (the redaction processor, which masks whole
matches) leaves text the process already masked alone.

``ignore_case`` rules are written in lower case: Python runs them on the lower-cased
text (same offsets, and ``re`` keeps its fast literal scan, which ``re.IGNORECASE``
loses); RE2 gets a ``(?i)`` prefix. ``triggers`` are substrings one of which must occur
(in the lower-cased text for ``ignore_case`` rules) before the pattern is run at all;
they are an optimisation of the Python side only and never change what matches.
"""

from __future__ import annotations

from dataclasses import dataclass

MASK = "****"


@dataclass(frozen=True)
class Rule:
    """One secret shape: ``(before)secret(after)``; ``before`` and ``after`` are kept."""

    name: str
    before: str
    secret: str
    after: str = ""
    ignore_case: bool = False
    triggers: tuple[str, ...] = ()
    # Every match holds its one-character trigger at least this often (the Discord token's
    # two dots): Python counts before it looks further.
    trigger_count: int = 1
    # No match is possible in a shorter text (lets Python skip the pattern).
    min_length: int = 0
    # A regex starting with a literal (or a plain substring) that every match contains:
    # Python looks for it first, which is cheap where the pattern's own start is not (the
    # collector has no use for it).
    hint: str = ""
    # Every match starts where one of these occurs (in the lower-cased text for
    # ``ignore_case``): Python tries the pattern at those places only, instead of scanning
    # the text with a pattern that starts with an alternation.
    starts: tuple[str, ...] = ()
    # A regex matching at every place where a match starts (Python tries it there first;
    # rules sharing a gate try it once per place): a cheap "no" for the pair rules at a
    # credential word that no separator follows ("Session ID", "static token").
    gate: str = ""
    # ``after`` may consume the start of another secret (the next key of a pair): an engine
    # that replaces non-overlapping matches (OTTL's replace_pattern) runs the rule twice.
    rescan: bool = False
    # For an engine that masks the whole match (the redaction processor's blocked_values),
    # where a consumed ``after`` would take the next secret's key with it: a pattern whose
    # match ends with the secret (it may mask more than the secret, never less).
    whole: str = ""

    @property
    def pattern(self) -> str:
        return f"({self.before}){self.secret}({self.after})"

    @property
    def re2_pattern(self) -> str:
        """The pattern as Go's regexp takes it."""
        return f"(?i){self.pattern}" if self.ignore_case else self.pattern

    @property
    def re2_whole_pattern(self) -> str:
        """What an engine that masks whole matches takes, as Go's regexp takes it."""
        if not self.whole:
            return self.re2_pattern
        return f"(?i){self.whole}" if self.ignore_case else self.whole


# Words that make a key name a credential ("db_password", "x-apisports-key",
# "aws_secret_access_key", "http.request.header.cookie"). Lower case, matched anywhere
# in the name. "key" alone is not one: cache keys are everywhere in a bot.
CREDENTIAL_WORDS: tuple[str, ...] = (
    "password",
    "passwd",
    "passphrase",
    "pwd",
    "secret",
    "token",
    "api[_-]?key",
    "apisports[_-]key",
    "access[_-]?key",
    "account[_-]?key",
    "private[_-]?key",
    "credential",
    "cookie",
    "session[_-]?id",
)
# Attribute keys: the words above plus the headers that carry credentials.
KEY_NAME_PATTERN = "|".join((*CREDENTIAL_WORDS, "authorization"))

_WORD = "(?:" + "|".join(CREDENTIAL_WORDS) + ")"
_KEY_TAIL = r"[a-z0-9_.-]*"  # the rest of the key name: db_password_hash, api_key.prod
_QUOTE = r"""(?:\\{0,3}["'])"""  # a quote, maybe JSON-escaped (twice, in a JSON array)
_SEP = rf"{_QUOTE}?[ \t]*[:=][ \t]*"
_PAIR_GATE = rf"{_WORD}{_KEY_TAIL}{_QUOTE}?[ \t]*[:=]"  # every pair starts so


def _value(stop: str) -> str:
    """A value up to one of ``stop`` (class body), not a query placeholder, not masked.

    Placeholders stay readable in SQL and format strings: ``%s``, ``%(name)s``, ``?``,
    ``$1``, ``:name``; a value starting ``**`` is already masked.
    """
    first = (
        rf"(?:[^{stop}*%?$:]|\*[^{stop}*]|%[^{stop}s(]|\$[^{stop}0-9]"
        rf"|\?[^{stop}]|:[^{stop}a-z0-9_])"
    )
    return rf"{first}[^{stop}]*"


_BARE_STOP = r"""\s"'\\&,;})"""
# An unquoted value may hold spaces ("password=correct horse battery"): it runs on, word by
# word, to the next "key=" or "key:" (a URL's scheme too; kept, with the space before it), a
# separator or the line's end. Without lookahead (RE2 has none) the next key is recognised
# by consuming it in the kept group after the secret (hence ``rescan`` and ``whole``).
_BARE_WORD = r"""[^\s"'\\&,;})=:]+"""
_NEXT_KEY = rf"{_BARE_WORD}[=:]"
_BARE_END = rf"""(?:[ \t]+{_NEXT_KEY}|[ \t]*(?:[\r\n\v\f"'\\&,;}})]|$))"""
_LINE_STOP = r"""\r\n"'\\"""
_QUOTED_STOP = r"""\r\n"'\\"""
_WORD_TRIGGERS = (
    "pass",
    "pwd",
    "secret",
    "token",
    "key",
    "credential",
    "cookie",
    "session",
)
# Where a credential word starts (every pair match starts at one of these).
_WORD_STARTS = (
    "pass",
    "pwd",
    "secret",
    "token",
    "api",
    "access",
    "account",
    "private",
    "credential",
    "cookie",
    "session",
)
# The words after which a long opaque value (no "=" or ":") is taken for a secret.
_OPAQUE_WORD = (
    "(?:secret|token|api[_-]?key|apisports[_-]key|access[_-]?key|account[_-]?key|private[_-]?key)"
)
OPAQUE_TRIGGERS = ("secret", "token", "key")
# "AWS secret access key VALUE", "api token is VALUE"
_MORE_WORDS = r"(?:[ \t]+(?:access|secret|key|token|id|is))*"
_ALNUM = "A-Za-z0-9"
_AUTH_VALUE = r"""(?:[^\s"'\\,;*]|\*[^\s"'\\,;*])[^\s"'\\,;]*"""

RULES: tuple[Rule, ...] = (
    # --- key/value pairs under a credential key --------------------------------------
    # "password": "hunter 2", {'api_key': 'x'}, password='x' (SQL), \"token\": \"x\"
    Rule(
        "quoted_pair",
        before=rf"{_WORD}{_KEY_TAIL}{_SEP}{_QUOTE}",
        secret=_value(_QUOTED_STOP),
        ignore_case=True,
        triggers=_WORD_TRIGGERS,
        starts=_WORD_STARTS,
        gate=_PAIR_GATE,
    ),
    # password: hunter 2 (a "key: value" line: the value runs to the end of the line)
    Rule(
        "colon_pair",
        before=rf"{_WORD}{_KEY_TAIL}{_QUOTE}?[ \t]*:[ \t]+",
        secret=_value(_LINE_STOP),
        ignore_case=True,
        triggers=_WORD_TRIGGERS,
        starts=_WORD_STARTS,
        gate=_PAIR_GATE,
    ),
    # password=hunter2, api_key=x&user=y, AccountKey=x; password=two words user=bob
    Rule(
        "bare_pair",
        before=rf"{_WORD}{_KEY_TAIL}{_SEP}",
        secret=rf"{_value(_BARE_STOP)}(?:[ \t]+{_BARE_WORD})*?",
        after=_BARE_END,
        rescan=True,
        # masked whole: the value and every word after it up to a separator (the pairs
        # after it too, "password=a b user=bob" -> "****")
        whole=rf"{_WORD}{_KEY_TAIL}{_SEP}{_value(_BARE_STOP)}(?:[ \t]+[^{_BARE_STOP}]+)*",
        ignore_case=True,
        triggers=_WORD_TRIGGERS,
        starts=_WORD_STARTS,
        gate=_PAIR_GATE,
    ),
    # aws_secret_access_key wJalrXUt... : a long opaque value beside a credential key
    Rule(
        "keyed_opaque_value",
        before=rf"{_OPAQUE_WORD}{_KEY_TAIL}{_MORE_WORDS}{_QUOTE}?[ \t]+",
        secret=r"[a-z0-9][a-z0-9+/=_-]{19,}",
        ignore_case=True,
        triggers=OPAQUE_TRIGGERS,
        starts=("secret", "token", "api", "access", "account", "private"),
        min_length=24,
    ),
    # --- authorization -------------------------------------------------------------
    # Authorization: Bearer|Basic|Bot|Token VALUE (header line, dict or JSON form)
    Rule(
        "authorization",
        before=(
            rf"authorization{_SEP}{_QUOTE}?"
            r"(?:bearer|basic|bot|token|digest|negotiate|apikey)[ \t]+"
        ),
        secret=_AUTH_VALUE,
        ignore_case=True,
        triggers=("authoriz",),
        starts=("authorization",),
    ),
    # Authorization: VALUE with no scheme: the value must end the field (so that in
    # "Authorization: Bearer ****" the scheme is not taken for the value)
    Rule(
        "authorization_without_scheme",
        before=rf"authorization{_SEP}{_QUOTE}?",
        secret=_AUTH_VALUE,
        after=r"""[ \t]*(?:["'\\,;\r\n]|$)""",
        ignore_case=True,
        triggers=("authoriz",),
        starts=("authorization",),
    ),
    # "Bearer VALUE" anywhere (a token of at least 8 characters)
    Rule(
        "bearer",
        before=r"bearer[ \t]+",
        secret=r"[a-z0-9._~+/-]{8,}=*",
        ignore_case=True,
        triggers=("bearer",),
        starts=("bearer",),
        min_length=15,
    ),
    # --- URLs ----------------------------------------------------------------------
    # scheme://user:PASSWORD@host (mysql://, redis://, amqp://, https://); the password
    # may contain "@": it runs to the last "@" before the path.
    Rule(
        "url_password",
        before=r"""://[^\s:/?#@"'<>]*:""",
        secret=r"""(?:[^\s/?#"'<>*]|\*[^\s/?#"'<>*@])[^\s/?#"'<>]*""",
        after="@",
        ignore_case=True,
        triggers=("://",),
        starts=("://",),
        hint="@",
    ),
    # https://discord.com/api/webhooks/<id>/<TOKEN> (the id is not secret)
    Rule(
        "discord_webhook",
        before=r"discord(?:app)?\.com/api/(?:v[0-9]+/)?webhooks/[0-9]+/",
        secret=r"[a-z0-9_-]+",
        ignore_case=True,
        triggers=("webhooks/",),
    ),
    Rule(
        "slack_webhook",
        before=r"hooks\.slack\.com/services/t[a-z0-9_]+/b[a-z0-9_]+/",
        secret=r"[a-z0-9_]+",
        ignore_case=True,
        triggers=("hooks.slack.com",),
    ),
    # --- tokens whose shape gives them away (after detect-secrets' plugins) --------------
    Rule(
        "discord_bot_token",
        before="",
        secret=rf"[MNO][{_ALNUM}_-]{{23,27}}\.[{_ALNUM}_-]{{6,7}}\.[{_ALNUM}_-]{{27,40}}",
        triggers=(".",),
        trigger_count=2,
        min_length=59,
        hint=r"\.[A-Za-z0-9_-]{6,7}\.[A-Za-z0-9_-]{27}",
    ),
    Rule(
        "aws_access_key_id",
        before="",
        secret=r"(?:A3T[A-Z0-9]|ABIA|ACCA|AKIA|ASIA)[A-Z0-9]{16}",
        triggers=("AKIA", "ASIA", "ABIA", "ACCA", "A3T"),
        min_length=20,
    ),
    # aws ... key = "<40 characters>" (detect-secrets' AWS secret access key shape)
    Rule(
        "aws_secret_access_key",
        before=r"""aws[^\r\n]{0,20}?(?:key|pwd|pw|password|pass|token|secret)[^\r\n]{0,20}?["']""",
        secret=r"[a-z0-9/+]{40}",
        after=_QUOTE,
        ignore_case=True,
        triggers=("aws",),
        min_length=47,
    ),
    # -----BEGIN RSA PRIVATE KEY----- ... (the body, up to the END line or the text's end)
    Rule(
        "private_key_block",
        before=r"-----BEGIN[A-Z ]*PRIVATE KEY[A-Z ]*-----",
        secret=r"(?:[^*-]|\*[^*-])[^-]*",
        triggers=("PRIVATE KEY",),
    ),
    Rule(
        "json_web_token",
        before="",
        secret=rf"eyJ[{_ALNUM}_=-]{{10,}}\.[{_ALNUM}_=-]{{10,}}(?:\.[{_ALNUM}_=+/-]*)?",
        triggers=("eyJ",),
        min_length=24,
    ),
    Rule(
        "github_token",
        before="",
        secret=rf"(?:(?:ghp|gho|ghu|ghs|ghr)_[{_ALNUM}_]{{36,}}|github_pat_[{_ALNUM}_]{{22,}})",
        triggers=("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
        min_length=26,
    ),
    Rule(
        "gitlab_token",
        before="",
        secret=rf"glpat-[{_ALNUM}_-]{{20,}}",
        triggers=("glpat-",),
        min_length=26,
    ),
    Rule(
        "slack_token",
        before="",
        secret=r"xox[abposr]-[a-z0-9-]{10,}",
        ignore_case=True,
        triggers=("xox",),
        min_length=15,
    ),
    Rule(
        "stripe_key",
        before="",
        secret=rf"[rs]k_(?:live|test)_[{_ALNUM}]{{16,}}",
        triggers=("k_live_", "k_test_"),
        min_length=24,
    ),
    Rule(
        "openai_anthropic_key",
        before="",
        secret=(
            rf"sk-(?:(?:proj|svcacct|admin|ant-[a-z0-9]+)-[{_ALNUM}_-]{{20,}}"
            rf"|[{_ALNUM}]{{20}}T3BlbkFJ[{_ALNUM}]{{20}})"
        ),
        triggers=("sk-",),
        min_length=28,
    ),
    Rule(
        "sendgrid_key",
        before="",
        secret=rf"SG\.[{_ALNUM}_-]{{22}}\.[{_ALNUM}_-]{{43}}",
        triggers=("SG.",),
        min_length=69,
    ),
    Rule(
        "google_api_key",
        before="",
        secret=rf"AIza[{_ALNUM}_-]{{35}}",
        triggers=("AIza",),
        min_length=39,
    ),
    Rule(
        "npm_token",
        before="",
        secret=rf"npm_[{_ALNUM}]{{36}}",
        triggers=("npm_",),
        min_length=40,
    ),
    Rule(
        "pypi_token",
        before="",
        secret=rf"pypi-AgE[{_ALNUM}_-]{{50,}}",
        triggers=("pypi-",),
        min_length=58,
    ),
    Rule(
        "telegram_bot_token",
        before="",
        secret=rf"[0-9]{{8,10}}:[{_ALNUM}_-]{{35}}",
        triggers=tuple(f"{digit}:" for digit in "0123456789"),
        min_length=44,
        hint=r":[A-Za-z0-9_-]{35}",
    ),
    Rule(
        "mailchimp_key",
        before="",
        secret=r"[0-9a-f]{32}-us[0-9]{1,2}",
        ignore_case=True,
        triggers=("-us",),
        min_length=35,
    ),
    # --- SQL text that echoes literals ---------------------------------------------
    # MySQL/MariaDB 1064: "... the right syntax to use near '<SQL, literals and all>' at line 1"
    Rule(
        "mysql_syntax_error_echo",
        before=r"syntax to use near '",
        secret=r"(?:[^*]|\*[^*])(?s:.){0,120}?",  # MySQL echoes 80 characters
        after=r"' at line [0-9]+",
        ignore_case=True,
        triggers=("near '",),
    ),
    # MySQL 1062: "Duplicate entry '<value>' for key 'users.password'"
    Rule(
        "mysql_duplicate_entry",
        before=r"duplicate entry '",
        secret=r"(?:[^'\r\n*]|\*[^'\r\n*])[^'\r\n]*",
        after=r"' for key",
        ignore_case=True,
        triggers=("duplicate entry",),
    ),
    # CREATE USER ... IDENTIFIED BY 'x' / IDENTIFIED WITH plugin BY 'x'
    Rule(
        "sql_identified_by",
        before=r"""identified[a-z_ \t]*by[ \t]+["']""",
        secret=r"""(?:[^"'\r\n*]|\*[^"'\r\n*])[^"'\r\n]*""",
        ignore_case=True,
        triggers=("identified",),
    ),
)

# detect-secrets plugins whose shapes RULES cover (tests/redaction checks that whatever
# they flag is masked). Its entropy, keyword and vendor plugins are not mirrored: they flag
# the ids and hashes a log is full of.
DETECT_SECRETS_PLUGINS: frozenset[str] = frozenset(
    {
        "AWSKeyDetector",
        "BasicAuthDetector",
        "DiscordBotTokenDetector",
        "GitHubTokenDetector",
        "GitLabTokenDetector",
        "JwtTokenDetector",
        "MailchimpDetector",
        "NpmDetector",
        "OpenAIDetector",
        "PrivateKeyDetector",
        "PypiTokenDetector",
        "SendGridDetector",
        "SlackDetector",
        "StripeDetector",
        "TelegramBotTokenDetector",
    }
)

# Span attributes holding database statements: the collector sanitises SQL literals in
# these (and nowhere else: log bodies are not SQL).
DB_STATEMENT_ATTRIBUTES: tuple[str, ...] = ("db.query.text", "db.statement")
