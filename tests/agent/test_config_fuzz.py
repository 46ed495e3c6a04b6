"""Fuzzing the config loader: whatever the file and environment, one line or a config.

Bounded runs (a few hundred examples each, no deadline) so CI spends seconds here.
"""

from __future__ import annotations

import dataclasses
import math
import re
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
    "DISCORD_TOKEN", "API_SPORTS_KEY", "API_KEY",
]  # fmt: skip
YAML_CHARS = st.sampled_from(
    list("{}[]:,-&*!|>'\"#%@`?<=~ \n\t\\") + ["<<", "1e-300", "\x00", "\\0", "\\n", "\\r"]
)

# Values that have broken URL and number parsing before.
TRICKY = [
    "", "GET", "mysql", "0.1", "\u00b2", "redis://h:1/0", "redis://[", "redis://:pw@h:abc/0",
    "redis://h/\u00b2", "http://127.0.0.1:1/", "http://[::1", "http://h:99999/",
    "https://u:p@h/x?key=1", "ftp://h/", "http://",
    # Control characters and whitespace where they cannot work (paths, headers, URLs).
    "a\nb", "v\r\nX-Injected: 1", "/\x00", "\t", "\x7f", "\x85", "http://h/a b",
    "https://h/\n", "redis://:p w@h/0", "API_KEY", "API-KEY", "X-Key", "a:",
]  # fmt: skip
# Header names, good and bad, as mapping keys (``headers``, ``headers_from_env``).
HEADER_NAMES = st.sampled_from(["X-Key", "x key", "a\nb", "a:", "", "\x00", "!#$%&'*+-.^_`|~"])
# Unicode's control characters: no string a loaded config holds may contain one, tab aside.
CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")
TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
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
        | st.dictionaries(
            st.sampled_from(KEYS) | HEADER_NAMES | st.text(max_size=8), children, max_size=5
        )
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


def load(data: bytes, environ: dict[str, str]) -> AgentConfig | str:
    """Load ``data`` as a config file: a config, or the error line (after the file's
    name) once its shape is checked: one line, short, no control character in it."""
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
            assert not CONTROL.search(line) and "\t" not in line, line
            return line.replace(f"{path}: ", "", 1)


def assert_clean(config: AgentConfig) -> None:
    """No string a loaded config holds has a control character (tab aside), and every
    header name is an HTTP token."""
    for probe in config.probes.values():
        for spec in dataclasses.fields(probe.settings):
            value = getattr(probe.settings, spec.name)
            texts = [*value, *value.values()] if isinstance(value, dict) else [value]
            for text in texts:
                assert not (isinstance(text, str) and CONTROL.search(text)), spec.name
            if spec.name in ("url", "base_url", "host") and value is not None:
                assert not any(char.isspace() for char in value), spec.name
            if spec.name.startswith("headers"):
                assert all(TOKEN.fullmatch(name) for name in value), value


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
    if isinstance(config, AgentConfig):
        for probe in config.probes.values():
            assert 0.1 <= probe.interval <= 86_400 and math.isfinite(probe.timeout)
            assert 0.01 <= probe.timeout <= probe.interval
        assert_clean(config)


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


# Every string setting of every kind, beside the settings its kind cannot do without.
STRING_SETTINGS = sorted(
    (kind.name, spec.name)
    for kind in KINDS.values()
    for spec in dataclasses.fields(kind.settings)
    if "str" in str(spec.type) and "dict" not in str(spec.type)
)
REQUIRED = {"http": {"url": "http://127.0.0.1:1/"}}
texts = st.text(max_size=20) | st.sampled_from(TRICKY)


@BOUNDED
@given(setting=st.sampled_from(STRING_SETTINGS), text=texts)
def test_any_string_setting(setting: tuple[str, str], text: str) -> None:
    """Any text in any string setting: a config that holds no control character, or a
    line naming the key that never shows the text's control characters."""
    kind, key = setting
    probe = {**REQUIRED.get(kind, {}), "kind": kind, key: text}
    result = load(dumped({"probes": {"p": probe}}), {})
    if isinstance(result, AgentConfig):
        assert_clean(result)
    else:
        assert result.startswith(f"config error: probes.p.{key}: "), result


@BOUNDED
@given(
    headers=st.dictionaries(st.just("Accept"), texts)
    | st.dictionaries(HEADER_NAMES | st.text(max_size=8), texts, max_size=3),
    from_env=st.just({"X-Key": "API_KEY"})
    | st.dictionaries(HEADER_NAMES, st.sampled_from(["API_KEY", "API-KEY", "1X", ""])),
    value=texts,
)
def test_any_headers(headers: dict[str, str], from_env: dict[str, str], value: str) -> None:
    """Any header names and values, in the file or in the environment: a config whose
    headers could all be sent, or a line naming ``headers`` or ``headers_from_env``."""
    probe = {"kind": "http", "url": "http://127.0.0.1:1/", "headers": headers}
    result = load(
        dumped({"probes": {"p": {**probe, "headers_from_env": from_env}}}), {"API_KEY": value}
    )
    if isinstance(result, AgentConfig):
        assert_clean(result)
    else:
        assert result.startswith("config error: probes.p.headers"), result
