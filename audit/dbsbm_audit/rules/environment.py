"""Environment checks (DBSBM-ENV-001 … 004): none of the wrapped engines look at the
deployment environment, so these are ours.

- ENV-001 required variables (``DISCORD_TOKEN``, ``MYSQL_PASSWORD``, ``REDIS_PASSWORD``,
  ``DBSBM_ENV``) missing or empty in every source checked. Sources are explicit, opt-in and
  named in the message: ``--env-file`` files and the process environment (``--process-env``).
  A ``.env`` found in the tree is not assumed to be the deployment's (repositories keep
  non-secret settings there); with no source the check is not run.
- ENV-002 passwords shorter than ``PASSWORD_MIN_LENGTH`` or on the common list.
- ENV-003 ``.env`` files tracked by git (``git ls-files``) that hold secret-named values,
  ENV-004 ``.env`` files readable by group/others.

Template files (``.env.example``, ``.env.sample``, ...) hold placeholders by design and are
tracked on purpose; they are skipped.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dbsbm_audit.rules.credentials import (
    COMMON_PASSWORDS,
    PASSWORD_MIN_LENGTH,
    is_password_name,
    is_strong_name,
    is_weak_name,
)

REQUIRED_VARIABLES = ("DISCORD_TOKEN", "MYSQL_PASSWORD", "REDIS_PASSWORD", "DBSBM_ENV")
_TEMPLATE_MARKERS = frozenset({"example", "sample", "template", "dist", "defaults", "tmpl"})
_FIXTURE_MARKERS = frozenset({"test", "testing", "tests", "ci"})


@dataclass(frozen=True)
class EnvHit:
    rule_id: str
    line: int
    message: str


@dataclass(frozen=True)
class EnvSource:
    """Variables from one place, and its name as the report shows it."""

    label: str
    values: Mapping[str, str]
    lines: Mapping[str, int]  # variable -> line in the file (empty for the process env)


def is_env_file(name: str) -> bool:
    return name == ".env" or name.startswith(".env.") or name.endswith(".env")


def is_template(name: str) -> bool:
    """``.env.example``, ``sample.env``: placeholders by design (also fixtures)."""
    return bool((_TEMPLATE_MARKERS | _FIXTURE_MARKERS) & _name_words(name))


def is_fixture(name: str) -> bool:
    """``.env.test``, ``ci.env``: throwaway values for a test run."""
    return bool(_FIXTURE_MARKERS & _name_words(name))


def _name_words(name: str) -> set[str]:
    return set(re.split(r"[^a-z0-9]+", name.lower()))


def parse_env(text: str) -> list[tuple[int, str, str]]:
    """``KEY=value`` lines as python-dotenv reads them: ``export``, quotes, ``#`` comments."""
    pairs = []
    for lineno, raw in enumerate(text.replace("\r\n", "\n").split("\n"), start=1):
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        key, value = key.strip(), value.strip()
        if value[:1] in {'"', "'"}:
            end = value.find(value[0], 1)
            value = value[1:end] if end > 0 else value[1:]
        else:
            value = value.split(" #", 1)[0].strip()
        if key.replace("_", "").isalnum():
            pairs.append((lineno, key, value))
    return pairs


def source_from_text(text: str, label: str) -> EnvSource:
    return source_from_pairs(parse_env(text), label)


def source_from_pairs(pairs: list[tuple[int, str, str]], label: str) -> EnvSource:
    return EnvSource(label, {k: v for _, k, v in pairs}, {k: n for n, k, _ in pairs})


def weak_password(key: str, value: str) -> str | None:
    if not value or not is_password_name(key):
        return None
    if value.lower() in COMMON_PASSWORDS:
        return f"{key} is a common password"
    if len(value) < PASSWORD_MIN_LENGTH:
        return f"{key} is {len(value)} characters (minimum {PASSWORD_MIN_LENGTH})"
    return None


def weak_password_hits(source: EnvSource) -> list[EnvHit]:
    hits = []
    for key, value in source.values.items():
        why = weak_password(key, value)
        if why:
            hits.append(EnvHit("DBSBM-ENV-002", source.lines.get(key, 0), why))
    return hits


def secret_names(source: EnvSource) -> list[str]:
    """Variables with a non-empty value whose name says secret (password, token, key)."""
    return sorted(
        k for k, v in source.values.items() if v.strip() and (is_strong_name(k) or is_weak_name(k))
    )


def file_mode_hits(path: Path) -> list[EnvHit]:
    mode = path.lstat().st_mode
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        return [
            EnvHit("DBSBM-ENV-004", 0, f"mode {stat.filemode(mode)}: readable by group or others")
        ]
    return []


def required_hits(sources: list[EnvSource]) -> list[tuple[EnvSource | None, EnvHit]]:
    """One ENV-001 per required variable absent from every source, attached to the only
    source when there is one (so the finding points at that file)."""
    if not sources:
        return []
    checked = ", ".join(s.label for s in sources)
    only = sources[0] if len(sources) == 1 else None
    hits = []
    for name in REQUIRED_VARIABLES:
        values = [s.values[name] for s in sources if name in s.values]
        if not any(v.strip() for v in values):
            state = "empty" if values else "missing"
            hits.append((only, EnvHit("DBSBM-ENV-001", 0, f"{name} {state} (checked: {checked})")))
    return hits


def process_source(environ: Mapping[str, str]) -> EnvSource:
    return EnvSource("process environment", dict(environ), {})


def git_tracked(root: Path) -> set[Path] | None:
    """Absolute paths of files git tracks under ``root``; None when not in a git work tree."""
    base = root if root.is_dir() else root.parent
    try:
        top = subprocess.run(
            ["git", "-C", str(base), "rev-parse", "--show-toplevel"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
        )
        if top.returncode != 0:
            return None
        listed = subprocess.run(
            ["git", "-C", str(base), "ls-files", "-z", "--full-name"],
            capture_output=True,
            timeout=60,
            check=False,
            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
        )
    except (OSError, subprocess.SubprocessError):
        return None
    toplevel = Path(top.stdout.strip())
    return {
        (toplevel / p.decode("utf-8", "surrogateescape")).resolve()
        for p in listed.stdout.split(b"\0")
        if p
    }
