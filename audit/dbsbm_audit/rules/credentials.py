"""Hardcoded credentials (DBSBM-CRED-001 … 006).

Engines: bandit's B105/B106/B107 decide which assignment, keyword, default and comparison
shapes hold a password/token/secret; detect-secrets' plugins recognise vendor formats
(Discord bot tokens, AWS, GitHub, JWT, ...), credentials in URLs and high-entropy strings.

Our own code, and why:
- bandit's name regex only knows pass/pwd/token/secret, so ``API_KEY = "..."``,
  ``headers = {"x-apisports-key": "..."}`` and ``API_KEYS = {"football": "..."}`` (shapes the
  bot has) go unseen; ``candidates()`` extracts every (name, literal) pair from the AST so those
  become DBSBM-CRED-002.
- bandit reports ``TOKEN_URL = "https://..."``, ``token_type = "Bearer"`` or
  ``password = ""`` too; a bandit hit is kept only when a candidate on that line survives
  ``is_noise_name`` / ``is_placeholder``.
- detect-secrets' entropy detectors fire on every hash and UUID; we ask them only about
  values held by key/auth-named places (DBSBM-CRED-006).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import pairwise

from bandit.plugins.general_hardcoded_password import RE_CANDIDATES as BANDIT_NAME_RE
from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
from detect_secrets.filters.heuristic import is_potential_uuid, is_sequential_string
from detect_secrets.plugins.base import BasePlugin
from detect_secrets.plugins.basic_auth import BasicAuthDetector
from detect_secrets.plugins.discord import DiscordBotTokenDetector
from detect_secrets.plugins.high_entropy_strings import (
    Base64HighEntropyString,
    HexHighEntropyString,
)
from detect_secrets.plugins.ip_public import IPPublicDetector
from detect_secrets.plugins.keyword import KeywordDetector

from dbsbm_audit.rules.folding import Folded, Folder
from dbsbm_audit.rules.scopes import Scopes

# --- names -------------------------------------------------------------------------------
_PASSWORD_WORDS = {"password", "passwd", "pwd", "pass", "passphrase", "pw"}
_STRONG_WORDS = _PASSWORD_WORDS | {
    "secret",
    "secrets",
    "token",
    "tokens",
    "apikey",
    "apikeys",
    "credential",
    "credentials",
    "authorization",
    "bearer",
    "dsn",
}
_STRONG_PAIRS = {
    ("api", "key"),
    ("api", "keys"),
    ("access", "key"),
    ("private", "key"),
    ("secret", "key"),
    ("client", "secret"),
    ("auth", "token"),
    ("auth", "key"),
    ("signing", "key"),
    ("encryption", "key"),
}
# A last word that says the value is *about* a credential, not the credential itself.
_NOISE_LAST = {
    "url",
    "uri",
    "endpoint",
    "host",
    "type",
    "types",
    "field",
    "fields",
    "name",
    "names",
    "header",
    "headers_name",
    "prefix",
    "suffix",
    "env",
    "var",
    "file",
    "path",
    "dir",
    "len",
    "length",
    "count",
    "pattern",
    "regex",
    "re",
    "label",
    "prompt",
    "message",
    "msg",
    "hint",
    "help",
    "placeholder",
    "id",
    "ids",
    "ttl",
    "expiry",
    "expires",
    "limit",
    "param",
    "column",
    "col",
    "table",
    "format",
    "fmt",
    "template",
    "kind",
    "mode",
    "scheme",
    "location",
    "required",
    "min",
    "max",
    "policy",
    "hash",
    "hashed",
    "valid",
    "set",
    "present",
    "ok",
    "usage",
    "cache",
    "attempts",
    "timeout",
    "error",
    "errors",
    "reset",
    "text",
}
# Tokens that page through results (page_token, nextToken, continuation_token) are cursors.
_PAGINATION = {"page", "next", "continuation", "cursor", "sync"}
_WEAK_LAST = {"key", "keys", "auth", "sig", "signature", "salt", "hmac"}

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SPLIT = re.compile(r"[^A-Za-z0-9]+")

# Passwords shorter than this are flagged as weak.
PASSWORD_MIN_LENGTH = 8


def words(name: str) -> list[str]:
    return [w for w in _SPLIT.split(_CAMEL.sub("_", name).lower()) if w]


def is_noise_name(name: str) -> bool:
    ws = words(name)
    return bool(ws) and ws[-1] in _NOISE_LAST


def is_strong_name(name: str) -> bool:
    """A name that holds a secret by its wording (password, token, api_key, x-…-key)."""
    ws = words(name)
    if not ws or ws[-1] in _NOISE_LAST or _PAGINATION & set(ws):
        return False
    if any(w in _STRONG_WORDS for w in ws):
        return True
    if any(pair in _STRONG_PAIRS for pair in pairwise(ws)):
        return True
    if "api" in ws and ws[-1] in {"key", "keys"}:  # API_SPORTS_KEY, api_football_key
        return True
    return ws[0] == "x" and ws[-1] == "key" and len(ws) >= 3  # x-apisports-key, x-rapidapi-key


def is_weak_name(name: str) -> bool:
    """Key/auth-named: a secret only if its value looks random (entropy decides)."""
    ws = words(name)
    return bool(ws) and ws[-1] in _WEAK_LAST


def is_password_name(name: str) -> bool:
    return any(w in _PASSWORD_WORDS or w == "secret" for w in words(name))


# --- values ------------------------------------------------------------------------------
COMMON_PASSWORDS = frozenset(
    {
        "password",
        "password1",
        "password123",
        "passw0rd",
        "changeme",
        "change_me",
        "changeit",
        "admin",
        "admin123",
        "administrator",
        "root",
        "toor",
        "secret",
        "123456",
        "1234567",
        "12345678",
        "123456789",
        "1234567890",
        "qwerty",
        "qwerty123",
        "letmein",
        "welcome",
        "default",
        "test",
        "test123",
        "guest",
        "mysql",
        "redis",
        "dbsbm",
        "discord",
        "iloveyou",
        "abc123",
        "111111",
        "000000",
        "pass",
        "pass123",
    }
)
_TEMPLATE = re.compile(r"\$\{|\$[A-Z_]|\{\{|\{[A-Za-z_]*\}|^<.*>$|%\(?\w*\)?s|^\*+$")
_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$")
_PLACEHOLDER_WORDS = (
    "your",
    "example",
    "placeholder",
    "redacted",
    "xxxx",
    "dummy",
    "here",
    "fake",
    "sample",
    "****",
)
# Regular-expression syntax: a pattern that describes secrets (``secret=r"[a-z0-9]{20,}"``)
# is not one. Groups, escapes like \d, quantified classes, counted repeats.
_REGEX = re.compile(r"\(\?[:P<=!]|\\[sdwbSDW]|\[[^\]]*\][*+?{]|\{\d+,\d*\}")
# A dotted attribute or field name (semantic-convention keys, settings paths).
_DOTTED_NAME = re.compile(r"^[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+$")
# An HTTP header's name ("Access-Control-Allow-Credentials", "X-Api-Key"), not its value.
_HEADER_NAME = re.compile(r"^(?:[A-Z][a-z]*|[A-Z]+)(?:-(?:[A-Z][a-z]*|[A-Z]+))+$")
_SCHEME_PREFIX = re.compile(r"^(bearer|basic|token|bot)\s+", re.IGNORECASE)
_IDENTIFIER = re.compile(r"^[a-z][a-z_\-]*$")


def is_placeholder(value: str) -> bool:
    """Values that are clearly not a real secret: empty, templates, env-var names, prose,
    masked values, and field names (``{"MYSQL_PASSWORD": "password"}`` maps names)."""
    v = value.strip()
    if not v or not any(c.isalnum() for c in v) or len(set(v)) == 1:
        return True
    if _IDENTIFIER.match(v) and (is_strong_name(v) or v in _WEAK_LAST):
        return True
    if _TEMPLATE.search(v) or _ENV_NAME.match(v) or _REGEX.search(v) or _HEADER_NAME.match(v):
        return True
    if "::" in v or (  # "AWS::IAM::AccessKey", "gen_ai.usage.input_tokens", "discord.token"
        _DOTTED_NAME.match(v) and (v.count(".") > 1 or not any(c.isdigit() for c in v))
    ):
        return True
    low = v.lower()
    if any(w in low for w in _PLACEHOLDER_WORDS) and low not in COMMON_PASSWORDS:
        return True
    if low.startswith(("http://", "https://", "/", "./")) and "@" not in v:
        return True
    return " " in v and not low.startswith(("bearer ", "basic ", "token ", "bot "))


def is_placeholder_for(name: str, value: str) -> bool:
    """``is_placeholder``, plus values too short to be a key ("Bearer x"); a short value
    under a password name stays: that is a weak password, not a placeholder."""
    if is_placeholder(value):
        return True
    return not is_password_name(name) and len(_SCHEME_PREFIX.sub("", value.strip())) < 6


def looks_like_key(value: str) -> bool:
    """For values named only by their container (``API_KEYS = {"football": v}``,
    ``[secrets] provider = v``): keys mix letters and digits, settings rarely do."""
    return (
        len(value) >= 8
        and " " not in value
        and any(c.isdigit() for c in value)
        and any(c.isalpha() for c in value)
    )


def weakness(value: str) -> str | None:
    if value.lower() in COMMON_PASSWORDS:
        return "common password"
    if len(value) < PASSWORD_MIN_LENGTH:
        return f"shorter than {PASSWORD_MIN_LENGTH} characters"
    return None


# --- detect-secrets plugins ---------------------------------------------------------------
# Plugins we do not map: IPPublicDetector (an address is not a secret), the keyword and
# entropy detectors (used only in the contexts below), basic auth and Discord (own IDs).
_VENDOR_EXCLUDED: set[type[BasePlugin]] = {
    KeywordDetector,
    Base64HighEntropyString,
    HexHighEntropyString,
    IPPublicDetector,
    BasicAuthDetector,
    DiscordBotTokenDetector,
}


def _vendor_plugins() -> list[BasePlugin]:
    classes: list[type[BasePlugin]] = list(get_mapping_from_secret_type_to_class().values())
    return [cls() for cls in classes if cls not in _VENDOR_EXCLUDED]


# BasicAuthDetector needs a user name before the colon; Redis URLs are usually
# redis://:password@host, which it misses.
# Patterns start only where a word starts: a long run of letters would otherwise be retried
# from every position (quadratic on a 4 kB literal).
_EMPTY_USER_URL = re.compile(r"(?<![A-Za-z0-9+.\-])[A-Za-z][A-Za-z0-9+.\-]*://:([^\s@/'\"]+)@")
# ... and it knows URLs only. libpq and ODBC DSNs are key=value pairs joined by spaces or ";"
# ("host=db user=bot password=..."); Python keyword arguments are joined by commas, so a run
# of two or more such pairs is a DSN, not code. A value stops at "{": "password={}" and
# f"password={pw}" are filled in at run time.
_PAIR = r"(?<!\w)\w+=[^\s'\";,(){}]*"
_KV_DSN = re.compile(rf"{_PAIR}(?:[ \t;]+{_PAIR})+")
_DSN_PASSWORD = re.compile(r"(?:^|[ \t;])(?:password|pwd)=([^\s;]*)", re.IGNORECASE)
_DISCORD = DiscordBotTokenDetector()
_BASIC_AUTH = BasicAuthDetector()
_VENDORS = _vendor_plugins()
_ENTROPY = (Base64HighEntropyString(), HexHighEntropyString())
_KEYWORD = KeywordDetector()


@dataclass(frozen=True)
class LineHit:
    rule_id: str
    line: int
    message: str
    flow: tuple[tuple[int, str], ...] = ()


_PEM_HEADER_END = re.compile(r"PRIVATE KEY[A-Z ]*-----(.*)$")
_BASE64_START = re.compile(r"""^(?:\\n|\s|["'(+])*[A-Za-z0-9+/=]{16}""")


def _has_key_body(line: str, following: str) -> bool:
    """A PEM header is a key only with key material after it, on its line (``\\n`` in a
    literal) or the next; a comment or docstring that names the header holds none."""
    m = _PEM_HEADER_END.search(line)
    return m is None or bool(_BASE64_START.match(m.group(1)) or _BASE64_START.match(following))


# Discord webhook URLs carry their token in the path: whoever has the URL can post.
_DISCORD_WEBHOOK = re.compile(
    r"discord(?:app)?\.com/api(?:/v\d+)?/webhooks/\d{15,22}/([A-Za-z0-9_\-]{20,})"
)
# A credential in a URL's query string (?token=..., &api_key=...). The value stops where a
# template or concatenation starts, so "?token={token}" and "?key=" + key have none.
_QUERY_PARAM = re.compile(r"[?&]([A-Za-z][A-Za-z0-9_.\-]*)=([^&\s'\"#<>{}()\\]*)")
_QUERY_WEAK = {"key", "sig", "signature", "auth", "access", "code"}


def _url_credentials(line: str, lineno: int) -> Iterator[LineHit]:
    m = _DISCORD_WEBHOOK.search(line)
    if m and not is_placeholder(m.group(1)):
        yield LineHit("DBSBM-CRED-003", lineno, "Discord webhook URL with its token")
        return
    if "=" not in line or ("?" not in line and "&" not in line):
        return
    for name, value in _QUERY_PARAM.findall(line):
        if not value or is_placeholder_for(name, value) or len(value) < PASSWORD_MIN_LENGTH:
            continue
        strong = is_strong_name(name) and not is_noise_name(name)
        if strong or (
            name.lower() in _QUERY_WEAK and (looks_like_key(value) or is_high_entropy(value))
        ):
            yield LineHit(
                "DBSBM-CRED-003", lineno, f"URL with a credential in its query string ('{name}')"
            )
            return


def scan_line_formats(
    filename: str, line: str, lineno: int, following: str = ""
) -> Iterator[LineHit]:
    """Format-recognisable secrets on one line (any file type); ``following`` is the next
    line, where a PEM key's body starts."""
    if _DISCORD.analyze_line(filename=filename, line=line, line_number=lineno):
        yield LineHit("DBSBM-CRED-004", lineno, "Discord bot token")
    passwords = [
        s.secret_value
        for s in _BASIC_AUTH.analyze_line(filename=filename, line=line, line_number=lineno)
    ]
    if not passwords:
        passwords = _EMPTY_USER_URL.findall(line)
    if any(p and not is_placeholder(p) for p in passwords):
        yield LineHit("DBSBM-CRED-003", lineno, "URL/DSN with an embedded password")
    elif any(
        p and not is_placeholder(p)
        for dsn in _KV_DSN.findall(line)
        for p in _DSN_PASSWORD.findall(dsn)
    ):
        yield LineHit("DBSBM-CRED-003", lineno, "key=value DSN with an embedded password")
    yield from _url_credentials(line, lineno)
    if _REGEX.search(line):
        return  # a pattern for secrets (a redaction rule), not a secret
    for plugin in _VENDORS:
        for s in plugin.analyze_line(filename=filename, line=line, line_number=lineno):
            if s.type != "Private Key" or _has_key_body(line, following):
                yield LineHit("DBSBM-CRED-005", lineno, f"{s.type}")


# Values that stand for "fill this in" in a .env (besides ``is_placeholder``'s templates).
ENV_PLACEHOLDERS = frozenset(
    {"changeme", "change_me", "change-me", "changeit", "replaceme", "replace_me", "todo", "tbd"}
)


def is_env_placeholder(name: str, value: str) -> bool:
    return value.strip().lower() in ENV_PLACEHOLDERS or is_placeholder_for(name, value)


def env_line_findings(
    filename: str, pairs: list[tuple[int, str, str]], lines: list[str], by_name: bool = True
) -> list[LineHit]:
    """Secrets in a ``.env`` file, each on its line with the rule it would get anywhere
    else (a Discord token is CRED-004 in code, config or .env). ``pairs``: (line, key, value)
    as python-dotenv reads them; placeholders stay quiet. ``by_name=False``: only values
    recognisable by their format (for templates, whose other values are examples)."""
    hits: list[LineHit] = []
    for lineno, key, value in pairs:
        if value.strip().lower() in ENV_PLACEHOLDERS:
            continue
        line = lines[lineno - 1] if 0 < lineno <= len(lines) else f"{key}={value}"
        following = lines[lineno] if lineno < len(lines) else ""
        hits.extend(scan_line_formats(filename, line, lineno, following))
        if not by_name or is_placeholder_for(key, value):
            continue
        if is_strong_name(key):
            hits.append(LineHit(cred_rule(key), lineno, f"secret in .env file: '{key}'"))
        elif is_weak_name(key) and is_high_entropy(value):
            hits.append(LineHit("DBSBM-CRED-006", lineno, f"high-entropy value in '{key}'"))
    return one_per_line(hits)


def cred_rule(name: str) -> str:
    """bandit's vocabulary (password/token/secret) is CRED-001, the rest (keys) CRED-002,
    whichever engine saw it, so one secret gets the same ID in code and in config."""
    return "DBSBM-CRED-001" if BANDIT_NAME_RE.search(name) else "DBSBM-CRED-002"


def keyword_hits(filename: str, line: str, lineno: int) -> Iterator[LineHit]:
    """detect-secrets' KeywordDetector on a config line (password: ..., api_key = ...).

    Kept only on ``key: value`` / ``key = value`` lines whose key is credential-named: its
    regexes also fire inside values (``"detect-secrets==1.5.0"`` in a dependency list)."""
    m = _KV.match(line)
    if not m or not is_strong_name(m.group(2)):
        return
    key = m.group(2)
    for s in _KEYWORD.analyze_line(filename=filename, line=line, line_number=lineno):
        if s.secret_value and not is_placeholder_for(key, s.secret_value):
            yield LineHit(cred_rule(key), lineno, f"hardcoded credential in '{key}'")


def is_high_entropy(value: str) -> bool:
    if is_potential_uuid(value) or is_sequential_string(value):
        return False
    quoted = f'"{value}"'
    return any(
        plugin.analyze_line(filename="value.py", line=quoted, line_number=0) for plugin in _ENTROPY
    )


# --- Python AST candidates -----------------------------------------------------------------
@dataclass(frozen=True)
class Candidate:
    """A string literal held by a named place."""

    name: str
    value: str
    line: int  # where the literal is
    anchor: int  # where bandit reports the same thing (def line for defaults, call line)
    bandit_shape: bool  # a shape bandit B105/B106/B107 inspects
    via_owner: bool = False  # named by its dict's owner (API_KEYS = {"football": ...})


def _target_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if (
        isinstance(node, ast.Subscript)
        and isinstance(node.slice, ast.Constant)
        and isinstance(node.slice.value, str)
    ):
        return node.slice.value
    return None


def _str(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _dict_values(node: ast.Dict, owner: str | None) -> Iterator[Candidate]:
    """Values of a dict literal: named by their key, or by the owner when the owner is
    credential-named (``API_KEYS = {"football": "..."}``)."""
    for key, value in zip(node.keys, node.values, strict=True):
        key_name = _str(key)
        if isinstance(value, ast.Dict):
            nested_owner = key_name if key_name and is_strong_name(key_name) else owner
            yield from _dict_values(value, nested_owner)
            continue
        literal = _str(value)
        if literal is None:
            continue
        if (
            key is not None
            and key_name is not None
            and (is_strong_name(key_name) or is_weak_name(key_name))
        ):
            yield Candidate(key_name, literal, value.lineno, key.lineno, True)
        elif owner is not None:
            yield Candidate(owner, literal, value.lineno, value.lineno, False, via_owner=True)


def candidates(nodes: list[ast.AST]) -> Iterator[Candidate]:
    """``nodes``: every node of the module (one ``ast.walk`` shared by the rule families)."""
    owned = _owned_dicts(nodes)
    for node in nodes:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                name = _target_name(target)
                if name is None or node.value is None:
                    continue
                literal = _str(node.value)
                if literal is not None:
                    shape = isinstance(node, ast.Assign)
                    yield Candidate(name, literal, node.value.lineno, node.value.lineno, shape)
                elif isinstance(node.value, ast.Dict) and is_strong_name(name):
                    yield from _dict_values(node.value, name)
        elif isinstance(node, ast.Call):
            yield from _call_candidates(node)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            positional = args.posonlyargs + args.args
            defaulted = positional[len(positional) - len(args.defaults) :]
            pairs = list(zip(defaulted, args.defaults, strict=True))
            pairs += [(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d]
            for arg, default in pairs:
                literal = _str(default)
                if literal is not None:
                    yield Candidate(arg.arg, literal, default.lineno, node.lineno, True)
        elif isinstance(node, ast.Compare) and len(node.comparators) == 1:
            name = _target_name(node.left)
            literal = _str(node.comparators[0])
            if name and literal is not None and isinstance(node.ops[0], (ast.Eq, ast.NotEq)):
                yield Candidate(name, literal, node.comparators[0].lineno, node.lineno, True)
    for node in nodes:
        # Dicts owned by a strong name were walked above with their owner.
        if isinstance(node, ast.Dict) and id(node) not in owned:
            yield from _dict_values(node, None)


def _call_candidates(node: ast.Call) -> Iterator[Candidate]:
    for kw in node.keywords:
        if kw.arg is None:
            continue
        literal = _str(kw.value)
        if literal is not None:
            yield Candidate(kw.arg, literal, kw.value.lineno, node.lineno, True)
        elif isinstance(kw.value, ast.Dict) and is_strong_name(kw.arg):
            yield from _dict_values(kw.value, kw.arg)
    # os.getenv("X_PASSWORD", "fallback") / os.environ.get(...): a hardcoded fallback.
    if _is_env_read(node) and len(node.args) == 2:
        name, literal = _str(node.args[0]), _str(node.args[1])
        if name and literal is not None:
            yield Candidate(name, literal, node.args[1].lineno, node.lineno, False)


def _is_env_read(node: ast.Call) -> bool:
    """``os.getenv(...)`` or ``os.environ.get(...)``."""
    func = node.func
    fname = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return fname == "getenv" or (
        fname == "get" and isinstance(func, ast.Attribute) and _target_name(func.value) == "environ"
    )


def _owned_dicts(nodes: list[ast.AST]) -> set[int]:
    """ids of dict literals assigned to strong names, which ``candidates`` walks with their
    owner, so the plain walk skips them."""
    owned: set[int] = set()
    for node in nodes:
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(node.value, ast.Dict):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(n and is_strong_name(n) for n in map(_target_name, targets)):
                owned.add(id(node.value))
        elif isinstance(node, ast.Call):
            for kw in node.keywords:
                if kw.arg and isinstance(kw.value, ast.Dict) and is_strong_name(kw.arg):
                    owned.add(id(kw.value))
    return owned


BANDIT_CRED_TESTS = {"B105", "B106", "B107"}


def reported_candidates(nodes: list[ast.AST]) -> list[Candidate]:
    """The candidates that are not placeholders: what ``python_findings`` judges."""
    return [
        c
        for c in candidates(nodes)
        if not is_placeholder_for(c.name, c.value)
        and not (c.via_owner and not looks_like_key(c.value))
    ]


def needs_bandit_confirmation(found: list[Candidate]) -> bool:
    """Whether a candidate waits on bandit's B105/B106/B107 (which honour their own
    ``# nosec`` forms): one held by a name in bandit's vocabulary, in a shape it inspects."""
    return any(
        c.bandit_shape and is_strong_name(c.name) and BANDIT_NAME_RE.search(c.name) for c in found
    )


def python_findings(
    nodes: list[ast.AST],
    lines: list[str],
    filename: str,
    bandit_hits: Iterable[tuple[str, int]],
    scopes: Scopes | None = None,
    found: list[Candidate] | None = None,
) -> list[LineHit]:
    """All CRED hits for one Python file, at most one per line (the most specific).
    ``found``: ``reported_candidates(nodes)`` if already computed."""
    bandit_lines = {line for test_id, line in bandit_hits if test_id in BANDIT_CRED_TESTS}
    hits: list[LineHit] = []
    for c in reported_candidates(nodes) if found is None else found:
        if is_strong_name(c.name):
            rule = cred_rule(c.name)
            if (
                c.bandit_shape
                and rule == "DBSBM-CRED-001"
                and c.anchor not in bandit_lines
                and c.line not in bandit_lines
            ):
                continue  # bandit did not report it (e.g. its own # nosec)
            weak = weakness(c.value) if is_password_name(c.name) else None
            what = f"hardcoded credential in '{c.name}'" + (f" ({weak})" if weak else "")
            hits.append(LineHit(rule, c.line, what))
        elif is_weak_name(c.name) and not is_noise_name(c.name) and is_high_entropy(c.value):
            hits.append(LineHit("DBSBM-CRED-006", c.line, f"high-entropy value in '{c.name}'"))
    for lineno, line in enumerate(lines, start=1):
        if '"' in line or "'" in line:
            following = lines[lineno] if lineno < len(lines) else ""
            hits.extend(scan_line_formats(filename, line, lineno, following))
    if scopes is not None:
        hits.extend(assembled_findings(scopes, filename))
    return one_per_line(hits)


# --- secrets assembled at run time ----------------------------------------------------------
# Expressions worth folding: the shapes a split secret takes. Plain literals are judged above.
_FOLDABLE = (ast.BinOp, ast.JoinedStr, ast.Call, ast.Name, ast.Subscript)


def _assembled_places(nodes: list[ast.AST], owner: str = "") -> Iterator[tuple[str, ast.expr, int]]:
    """(name or "", value, line) for values among a scope's nodes that might fold:
    assignments, keyword and positional arguments, dict values, and what the function
    (named ``owner``) returns."""
    for node in nodes:
        if isinstance(node, ast.Return) and isinstance(node.value, _FOLDABLE):
            if not isinstance(node.value, ast.Name):  # a returned variable: judged where bound
                yield owner, node.value, node.lineno
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            # TOKEN = os.getenv("TOKEN") or "MTA4" + "...": the fallback is a value too
            values = node.value.values if isinstance(node.value, ast.BoolOp) else [node.value]
            for target in targets:
                name = _target_name(target)
                for value in values:
                    if name is not None and isinstance(value, _FOLDABLE):
                        yield name, value, node.lineno
        elif isinstance(node, ast.Call):
            for kw in node.keywords:
                if kw.arg and isinstance(kw.value, _FOLDABLE):
                    yield kw.arg, kw.value, node.lineno
            # os.getenv("API_KEY", "abc" + "..."): the fallback is named by the variable
            named = _str(node.args[0]) if _is_env_read(node) and node.args else None
            for arg in node.args:
                if isinstance(arg, (ast.BinOp, ast.JoinedStr, ast.Call)):
                    yield named or "", arg, node.lineno
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                key_name = _str(key)
                if key_name and isinstance(value, _FOLDABLE):
                    yield key_name, value, value.lineno


def assembled_findings(scopes: Scopes, filename: str) -> list[LineHit]:
    """Values built from literals (``"MTA4" + "NzY1"``, ``"".join(PARTS)``, ``f"{A}{B}"``,
    ``base64.b64decode("...").decode()``), judged as if they were written out: by format
    (Discord token, vendor key, credentials in a URL) and by the name that holds them."""
    module = Folder(scopes.own(scopes.tree))
    hits: list[LineHit] = []
    for owner in scopes.owners:
        nodes = scopes.own(owner)
        places = list(_assembled_places(nodes, getattr(owner, "name", "")))
        if not places:
            continue
        folder = module if owner is scopes.tree else module.scope(nodes)
        for name, value, line in places:
            folded = folder.fold(value)
            if folded is None or not folded.assembled or not folded.value.strip():
                continue
            hits.extend(_judge_assembled(filename, name, folded, line))
    return hits


def _judge_assembled(filename: str, name: str, folded: Folded, line: int) -> Iterator[LineHit]:
    where = f" in '{name}'" if name else ""
    flow = tuple((n, "literal part") for n in sorted(set(folded.lines)) if n != line)
    flow += ((line, f"assembled{where} at run time"),)
    text = folded.value.replace("\\", "\\\\").replace('"', '\\"')
    for hit in scan_line_formats(filename, f'"{text}"', line):
        yield LineHit(hit.rule_id, line, f"{hit.message}, assembled{where} at run time", flow)
    if not name or is_placeholder_for(name, folded.value):
        return
    if is_strong_name(name):
        message = f"credential assembled at run time in '{name}'"
        yield LineHit(cred_rule(name), line, message, flow)
    elif is_weak_name(name) and not is_noise_name(name) and is_high_entropy(folded.value):
        message = f"high-entropy value assembled at run time in '{name}'"
        yield LineHit("DBSBM-CRED-006", line, message, flow)


_PREFERENCE = [
    "DBSBM-CRED-004",
    "DBSBM-CRED-005",
    "DBSBM-CRED-003",
    "DBSBM-CRED-001",
    "DBSBM-CRED-002",
    "DBSBM-CRED-006",
]


def one_per_line(hits: list[LineHit]) -> list[LineHit]:
    """Keep the most specific credential finding per line: one secret, one finding."""
    best: dict[int, LineHit] = {}
    for hit in hits:
        current = best.get(hit.line)
        if current is None or _PREFERENCE.index(hit.rule_id) < _PREFERENCE.index(current.rule_id):
            best[hit.line] = hit
    return [best[line] for line in sorted(best)]


# --- config files (yaml/json/ini/cfg/toml) -------------------------------------------------
_KV = re.compile(r"""^(\s*)-?\s*["']?([A-Za-z0-9_.\-]+)["']?\s*[:=](?![=:])\s*(.*?)\s*,?\s*$""")
_SECTION = re.compile(r"^\s*\[+\s*([A-Za-z0-9_.\-]+)\s*\]+\s*$")


def _config_value(raw: str) -> str | None:
    raw = raw.strip().rstrip(",")
    if not raw or raw[0] in "{[":
        return None
    if raw[0] in "\"'":
        quote = raw[0]
        end = raw.find(quote, 1)
        return raw[1:end] if end > 0 else None
    value = raw.split(" #", 1)[0].strip()
    if value.lower() in {"true", "false", "null", "none", "~"} or re.fullmatch(
        r"-?\d+(\.\d+)?", value
    ):
        return None
    return value


def config_pairs(lines: list[str]) -> Iterator[tuple[int, str, str | None, str | None]]:
    """(line, key, literal value or None, strong owner) for key/value lines of any config
    format, tracking parents by indentation (YAML, pretty JSON) and ``[section]`` (INI, TOML)."""
    stack: list[tuple[int, str]] = []
    section: str | None = None
    for lineno, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith(("#", ";", "//")):
            continue
        m = _SECTION.match(line)
        if m:
            section, stack = m.group(1), []
            continue
        m = _KV.match(line)
        if not m:
            continue
        indent, key, rest = len(m.group(1)), m.group(2), m.group(3)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        parents = [k for _, k in stack] + ([section] if section else [])
        owner = next((p for p in reversed(parents) if is_strong_name(p)), None)
        value = _config_value(rest)
        if value is None and (not rest.strip() or rest.strip()[0] in "{["):
            stack.append((indent, key))
        yield lineno, key, value, owner


def config_findings(filename: str, lines: list[str]) -> list[LineHit]:
    hits: list[LineHit] = []
    for lineno, line in enumerate(lines, start=1):
        following = lines[lineno] if lineno < len(lines) else ""
        hits.extend(scan_line_formats(filename, line, lineno, following))
        hits.extend(keyword_hits(filename, line, lineno))
    keyword_lines = {h.line for h in hits}
    for lineno, key, value, owner in config_pairs(lines):
        if value is None or lineno in keyword_lines or is_placeholder_for(key, value):
            continue
        if is_strong_name(key) or (owner and not is_noise_name(key) and looks_like_key(value)):
            name = key if is_strong_name(key) else f"{owner}.{key}"
            rule = cred_rule(key) if is_strong_name(key) else "DBSBM-CRED-002"
            hits.append(LineHit(rule, lineno, f"hardcoded credential in '{name}'"))
        elif is_weak_name(key) and is_high_entropy(value):
            hits.append(LineHit("DBSBM-CRED-006", lineno, f"high-entropy value in '{key}'"))
    return one_per_line(hits)
