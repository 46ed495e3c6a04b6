"""Fuzzing the config loader: whatever the file and environment, one line or a config.

Bounded runs (a few hundred examples each, no deadline) so CI spends seconds here.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from dbsbm_agent.config import AgentConfig, ConfigError, load_config
from dbsbm_agent.probers import KINDS

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = (REPO / "agent/agent.example.yaml").read_text()
BOUNDED = settings(max_examples=300, deadline=None, database=None)  # nothing written to the tree

KEYS = [
    "listen", "probes", "kind", "interval", "timeout", "depends_on", "required",
    "latency_warn", "host", "port", "user", "password", "database", "url", "username", "db",
    "key", "method", "expected_status", "headers", "headers_from_env", "base_url", "token",
    "path", "warn_ratio", "fail_ratio", "mysql", "redis", "http", "discord",
]  # fmt: skip
ENV_NAMES = [
    "MYSQL_HOST", "MYSQL_PORT", "MYSQL_USER", "MYSQL_PASSWORD", "MYSQL_DB", "REDIS_URL",
    "REDIS_HOST", "REDIS_PORT", "REDIS_USERNAME", "REDIS_PASSWORD", "REDIS_DB",
    "DISCORD_TOKEN", "API_SPORTS_KEY",
]  # fmt: skip
YAML_CHARS = st.sampled_from(list("{}[]:,-&*!|>'\"#%@`?<=~ \n\t\\") + ["<<", "1e-300", "\x00"])

# Values that have broken URL and number parsing before.
TRICKY = [
    "", "GET", "mysql", "0.1", "\u00b2", "redis://h:1/0", "redis://[", "redis://:pw@h:abc/0",
    "redis://h/\u00b2", "http://127.0.0.1:1/", "http://[::1", "http://h:99999/",
    "https://u:p@h/x?key=1", "ftp://h/", "http://",
]  # fmt: skip
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(TRICKY),
    st.text(max_size=20),
)
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=30,
)
COMMON_KEYS = ["interval", "timeout", "depends_on", "required"]


def probe_of(kind: str) -> st.SearchStrategy[dict[str, Any]]:
    """A probe of ``kind`` with some of the keys that kind (and every probe) accepts."""
    keys = sorted(KINDS[kind].keys()) + COMMON_KEYS
    return st.dictionaries(st.sampled_from(keys), values, max_size=4).map(
        lambda settings: {"kind": kind, **settings}
    )


documents = st.fixed_dictionaries(
    {},
    optional={
        "listen": values,
        "probes": st.dictionaries(
            st.sampled_from(["mysql", "redis", "http", "discord", "host", "a", "b"]),
            st.sampled_from(sorted(KINDS)).flatmap(probe_of)
            | st.dictionaries(st.sampled_from(KEYS), values, max_size=6)
            | values,
            max_size=4,
        ),
    },
)
environs = st.dictionaries(
    st.sampled_from(ENV_NAMES), st.sampled_from(TRICKY) | st.text(max_size=30), max_size=4
)


def load(data: bytes, environ: dict[str, str]) -> AgentConfig | None:
    """Load ``data`` as a config file: a config, or None after checking the error line."""
    with tempfile.TemporaryDirectory() as workdir:
        path = Path(workdir) / "agent.yaml"
        path.write_bytes(data)
        try:
            return load_config(path, environ)
        except ConfigError as error:
            line = str(error)
            assert line.startswith(f"config error: {path}: ") or line.startswith(
                "config error: environment: "
            ), line
            assert "\n" not in line and len(line) < 400 + len(str(path)), line
            return None


def dumped(document: Any) -> bytes:
    return yaml.safe_dump(document, allow_unicode=True).encode("utf-8", "surrogatepass")


@BOUNDED
@given(data=st.binary(max_size=2000), environ=environs)
def test_any_bytes(data: bytes, environ: dict[str, str]) -> None:
    """Arbitrary bytes give a config or one error line, never another exception."""
    load(data, environ)


@BOUNDED
@given(document=documents, environ=environs)
def test_any_document(document: dict[str, Any], environ: dict[str, str]) -> None:
    """Well-formed YAML of any shape, with the agent's own keys, never escapes the contract."""
    config = load(dumped(document), environ)
    if config is not None:
        for probe in config.probes.values():
            assert 0.1 <= probe.interval <= 86_400 and math.isfinite(probe.timeout)
            assert 0.01 <= probe.timeout <= probe.interval


@BOUNDED
@given(
    edits=st.lists(
        st.tuples(st.integers(0, len(EXAMPLE)), st.integers(0, 5), YAML_CHARS), max_size=6
    ),
    environ=environs,
)
def test_edited_example(edits: list[tuple[int, int, str]], environ: dict[str, str]) -> None:
    """The shipped example with a few characters cut or inserted anywhere."""
    text = EXAMPLE
    for at, cut, insert in edits:
        text = text[:at] + insert + text[at + cut :]
    load(text.encode("utf-8", "surrogatepass"), {"API_SPORTS_KEY": "k", **environ})
