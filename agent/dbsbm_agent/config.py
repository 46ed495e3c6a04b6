"""The agent's configuration: one YAML file, then DBSBM's environment variables.

Like blackbox_exporter's ``config.go``: defaults are applied first, then every value is
validated as it is read, unknown keys are rejected, and each problem is reported as one
exact line naming the file and the key::

    config error: agent.yaml: probes.redis.timeout: must be a positive number, got -1

The keys every probe takes are read here; the rest belong to the probe's kind, whose
module under :mod:`dbsbm_agent.probers` declares them as a typed settings dataclass.
Environment variables override the file with the names the bot already uses
(``MYSQL_*``, ``REDIS_URL`` or ``REDIS_*``, ``DISCORD_TOKEN``), so the agent reads the
same ``.env`` as the bot; they apply to every probe of that kind. Secrets are kept out
of ``repr`` so a logged config never shows them.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Hashable, Mapping, Set
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer, ComposerError
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.events import AliasEvent, Event
from yaml.nodes import MappingNode, Node
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

from .probers import KINDS as _KINDS
from .probers.base import (
    DEFAULT_TIMEOUT_SECONDS,
    Invalid,
    InvalidSetting,
    ProbeConfig,
    describe,
    positive,
    shorten,
    without_whitespace,
)
from .probers.host import RESOURCE_FAIL_RATIO, RESOURCE_WARN_RATIO

KINDS = tuple(_KINDS)
DEFAULT_LISTEN = "127.0.0.1:9464"

# Limits that keep a hostile or mistaken file from hanging or exhausting the agent: each
# is far above what a bot's dependencies need (the shipped example is 2 KB, 5 probes).
MAX_FILE_BYTES = 256 * 1024
MAX_NESTING = 32
MAX_NODES = 50_000
MAX_PROBES = 1_000
MAX_PROBE_NAME = 100
# An interval below the floor would flood the logs with a failing probe's lines.
MIN_INTERVAL_SECONDS = 0.1
MAX_INTERVAL_SECONDS = 86_400.0
MIN_TIMEOUT_SECONDS = 0.01

_COMMON_KEYS = {"kind", "interval", "timeout", "depends_on", "required"}
# Each kind's defaults, under the names the mixin and the docs read.
PROBE_INTERVAL_SECONDS = {name: kind.interval for name, kind in _KINDS.items()}
PROBE_TIMEOUT_SECONDS = DEFAULT_TIMEOUT_SECONDS
__all__ = [
    "KINDS",
    "PROBE_INTERVAL_SECONDS",
    "PROBE_TIMEOUT_SECONDS",
    "RESOURCE_FAIL_RATIO",
    "RESOURCE_WARN_RATIO",
    "AgentConfig",
    "ConfigError",
    "ProbeConfig",
    "load_config",
    "parse_listen",
]
# Probe names become the ``component`` of /health's ``component:measurement`` keys and
# a metric attribute, so a ':' (or a space) in one would make those keys ambiguous.
_PROBE_NAME = re.compile(r"[A-Za-z0-9_.-]+")


class ConfigError(Exception):
    """A configuration problem; ``str()`` is the one line shown to the operator."""


@dataclass(frozen=True)
class AgentConfig:
    """The whole file; ``order`` lists probes so that dependencies come first."""

    source: str
    listen: str
    probes: Mapping[str, ProbeConfig[Any]]
    order: tuple[str, ...]


def load_config(path: str | Path, environ: Mapping[str, str] | None = None) -> AgentConfig:
    """Read, override from ``environ`` (default ``os.environ``), validate; or ConfigError."""
    source = str(path)
    text = _read(source)
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        document = None if node is None else loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        if isinstance(exc, yaml.reader.ReaderError):  # a character YAML does not allow
            line: int | None = text.count("\n", 0, exc.position) + 1
        else:
            line = None if mark is None else mark.line + 1
        where = "" if line is None else f"line {line}: "
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(
            f"config error: {source}: {where}invalid YAML: {shorten(problem, 160)}"
        ) from None
    finally:
        loader.dispose()
    return _Parser(source, os.environ if environ is None else environ).parse(document)


def _read(source: str) -> str:
    """The file's text, if it is a regular file of at most ``MAX_FILE_BYTES``.

    Checked before opening: opening a FIFO blocks until a writer comes, and reading a
    device such as /dev/zero never ends.
    """
    try:
        info = os.stat(source)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(f"config error: {source}: not a regular file ({_file_type(info)})")
        if info.st_size > MAX_FILE_BYTES:
            raise ConfigError(
                f"config error: {source}: too large: {info.st_size} bytes "
                f"(at most {MAX_FILE_BYTES})"
            )
        with open(source, "rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"config error: {source}: cannot read: {exc.strerror}") from None
    except ValueError as exc:  # a NUL byte in the path
        raise ConfigError(f"config error: {source}: cannot read: {exc}") from None
    if len(data) > MAX_FILE_BYTES:  # it grew after the check
        raise ConfigError(f"config error: {source}: too large: over {MAX_FILE_BYTES} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"config error: {source}: not UTF-8: byte "
            f"0x{exc.object[exc.start]:02x} at offset {exc.start}"
        ) from None


def _file_type(info: os.stat_result) -> str:
    mode = info.st_mode
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a file"


class _PythonEvents(Reader, Scanner, Parser):
    """PyYAML's own parser, for a PyYAML built without libyaml."""

    def __init__(self, text: str) -> None:
        Reader.__init__(self, text)
        Scanner.__init__(self)
        Parser.__init__(self)


def _event_source(text: str) -> Any:
    """libyaml's parser where PyYAML was built with it, else PyYAML's own."""
    if yaml.__with_libyaml__:
        from yaml._yaml import CParser

        return CParser(text)
    return _PythonEvents(text)


class _Loader(Composer, SafeConstructor, Resolver):
    """PyYAML's safe loader with limits, over libyaml's parser where there is one.

    libyaml's parser is C and keeps its own stack (no recursion); its composer,
    though, recurses in C, where deep nesting crashes the process, so nodes are composed
    here, in Python, where the nesting is bounded. Limits, each reported at the line
    that crosses it:

    - nesting: ``MAX_NESTING`` levels, counting the nodes an alias stands for;
    - size: ``MAX_NODES`` nodes, an alias counting as every node it repeats (so an
      alias bomb, "billion laughs", stops after ``MAX_NODES``, not at the memory limit);
    - an alias may not refer to a node that contains it.

    A key repeated in one mapping is an error: PyYAML silently keeps the last of two
    equal keys, so a second ``interval:`` further down a probe would quietly override
    the first. Merge keys (``<<: *base``) may still be overridden: they are checked
    before PyYAML expands them.
    """

    # The event source's own methods, bound in __init__: the composer calls them for
    # every node, and a forwarding method would add a Python call to each.
    check_event: Callable[..., bool]
    peek_event: Callable[[], Event]
    get_event: Callable[[], Event]
    dispose: Callable[[], None]

    def __init__(self, text: str) -> None:
        events = _event_source(text)
        self.check_event = events.check_event
        self.peek_event = events.peek_event
        self.get_event = events.get_event
        self.dispose = events.dispose
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        self._depth = 0  # of the node being composed
        self._deepest = 0  # the deepest level reached under it
        self._nodes = 0
        self._anchored: dict[str, tuple[int, int]] = {}  # anchor -> (nodes, height)

    def _count(self, nodes: int, deepest: int, mark: Any) -> None:
        self._nodes += nodes
        if self._nodes > MAX_NODES:
            raise ComposerError(
                None,
                None,
                f"more than {MAX_NODES} nodes, counting each alias as the nodes it repeats",
                mark,
            )
        if deepest > MAX_NESTING:
            raise ComposerError(
                None, None, f"nested deeper than {MAX_NESTING} levels, aliases included", mark
            )
        self._deepest = max(self._deepest, deepest)

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event = self.peek_event()
        mark: Any = event.start_mark  # PyYAML's or libyaml's Mark
        if isinstance(event, AliasEvent):
            anchor = str(event.anchor)
            if anchor in self._anchored:
                nodes, height = self._anchored[anchor]
                self._count(nodes, self._depth + height, mark)
            elif anchor in self.anchors:
                raise ComposerError(
                    None,
                    None,
                    f"alias {shorten('*' + anchor)} is inside the node it refers to",
                    mark,
                )
            return super().compose_node(parent, index)
        deepest_outside = self._deepest
        nodes_before = self._nodes
        self._depth += 1
        self._deepest = self._depth
        self._count(1, self._depth, mark)
        node = super().compose_node(parent, index)
        defined = getattr(event, "anchor", None)
        if defined is not None:
            self._anchored[defined] = (self._nodes - nodes_before, self._deepest - self._depth + 1)
        self._depth -= 1
        self._deepest = max(deepest_outside, self._deepest)
        return node

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except ValueError as exc:  # int() of 5,000 digits, a 13th month, ...
            # Python's own advice after the ';' is for programmers, not this file's author.
            problem = str(exc).split(";")[0]
            raise ConstructorError(None, None, problem, node.start_mark) from None

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, Hashable):
                continue  # SafeConstructor reports unhashable keys itself
            if key in first_line:
                raise ConstructorError(
                    None,
                    None,
                    f"duplicate key {shorten(repr(key))} (first on line {first_line[key]})",
                    key_node.start_mark,
                )
            first_line[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


class _Parser:
    def __init__(self, source: str, environ: Mapping[str, str]) -> None:
        self.source = source
        self.environ = environ

    def fail(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"config error: {self.source}: {key}: {message}")

    def parse(self, document: Any) -> AgentConfig:
        if not isinstance(document, dict):
            raise ConfigError(
                f"config error: {self.source}: must be a mapping with a 'probes' key, "
                f"got {describe(document)}"
            )
        self.reject_unknown(document, {"listen", "probes"}, "")
        listen = document.get("listen", DEFAULT_LISTEN)
        parse_listen(listen, lambda message: self.fail("listen", message))
        raw_probes = document.get("probes")
        if not isinstance(raw_probes, dict):
            raise self.fail(
                "probes", f"must map probe names to settings, got {describe(raw_probes)}"
            )
        if not raw_probes:
            raise self.fail("probes", "must name at least one probe")
        if len(raw_probes) > MAX_PROBES:
            raise self.fail("probes", f"at most {MAX_PROBES} probes, got {len(raw_probes)}")
        for name in raw_probes:
            if not _PROBE_NAME.fullmatch(str(name)):
                raise self.fail(
                    "probes",
                    f"probe name {describe(str(name))} may only use letters, digits, "
                    "'_', '.' and '-'",
                )
            if len(str(name)) > MAX_PROBE_NAME:
                raise self.fail(
                    "probes",
                    f"probe name of {len(str(name))} characters (at most {MAX_PROBE_NAME}): "
                    f"{describe(str(name))}",
                )
        probes = {str(name): self.probe(str(name), raw) for name, raw in raw_probes.items()}
        for probe in probes.values():
            for dependency in probe.depends_on:
                if dependency not in probes:
                    raise self.fail(
                        f"probes.{probe.name}.depends_on", f"unknown probe {describe(dependency)}"
                    )
        return AgentConfig(self.source, listen, probes, self.order(probes))

    def reject_unknown(
        self, raw: Mapping[Any, Any], allowed: Set[str], prefix: str, kind: str | None = None
    ) -> None:
        for key in raw:
            if key not in allowed:
                raise self.fail(
                    f"{prefix}{_key(key)}",
                    f"unknown key for a {kind} probe" if kind else "unknown key",
                )

    def probe(self, name: str, raw: Any) -> ProbeConfig[Any]:
        at = f"probes.{name}"
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise self.fail(at, f"must be a mapping, got {describe(raw)}")
        kind_name = raw.get("kind", name if name in _KINDS else None)
        if kind_name is None:
            raise self.fail(f"{at}.kind", f"required (the name {name!r} is not a probe kind)")
        kind = _KINDS.get(kind_name) if isinstance(kind_name, str) else None
        if kind is None:
            raise self.fail(
                f"{at}.kind",
                f"unknown probe kind {describe(kind_name)} (known: {', '.join(KINDS)})",
            )
        self.reject_unknown(raw, _COMMON_KEYS | kind.keys(), f"{at}.", kind.name)
        try:
            raw = {**raw, **kind.env(self.environ)}
        except InvalidSetting as exc:
            raise ConfigError(f"config error: environment: {exc}") from None
        interval = self.seconds(raw, "interval", at, kind.interval, MIN_INTERVAL_SECONDS)
        # A short interval shortens the default timeout rather than failing validation.
        timeout = self.seconds(raw, "timeout", at, min(kind.timeout, interval), MIN_TIMEOUT_SECONDS)
        if timeout > interval:
            raise self.fail(
                f"{at}.timeout", f"must not exceed the interval ({interval:g}), got {timeout:g}"
            )
        depends_on = raw.get("depends_on", [])
        if not isinstance(depends_on, list) or not all(isinstance(d, str) for d in depends_on):
            raise self.fail(
                f"{at}.depends_on", f"must be a list of probe names, got {describe(depends_on)}"
            )
        if name in depends_on:
            raise self.fail(f"{at}.depends_on", "a probe cannot depend on itself")
        required = raw.get("required", kind.required)
        if not isinstance(required, bool):
            raise self.fail(f"{at}.required", f"must be true or false, got {describe(required)}")
        settings_raw = {key: value for key, value in raw.items() if key not in _COMMON_KEYS}
        try:
            settings = kind.decode(settings_raw, self.environ)
        except InvalidSetting as exc:
            raise self.fail(f"{at}.{exc.key}", exc.message) from None
        return ProbeConfig(
            name=name,
            kind=kind.name,
            target=kind.target(settings),
            interval=interval,
            timeout=timeout,
            settings=settings,
            depends_on=tuple(depends_on),
            required=required,
        )

    def seconds(
        self, raw: Mapping[str, Any], key: str, at: str, default: float, floor: float
    ) -> float:
        if key not in raw:
            return default
        try:
            value = positive(raw[key])
        except Invalid as exc:
            raise self.fail(f"{at}.{key}", str(exc)) from None
        if value < floor:
            raise self.fail(f"{at}.{key}", f"must be at least {floor:g} s, got {value:g}")
        if value > MAX_INTERVAL_SECONDS:
            raise self.fail(
                f"{at}.{key}", f"must be at most {MAX_INTERVAL_SECONDS:g} s, got {value:g}"
            )
        return value

    def order(self, probes: Mapping[str, ProbeConfig[Any]]) -> tuple[str, ...]:
        """Dependencies first (depth-first topological sort); a cycle is an error."""
        done: dict[str, None] = {}
        visiting: list[str] = []

        def visit(name: str) -> None:
            if name in done:
                return
            if name in visiting:
                cycle = " -> ".join([*visiting[visiting.index(name) :], name])
                raise self.fail(
                    f"probes.{visiting[visiting.index(name)]}.depends_on",
                    f"dependency cycle {cycle}",
                )
            visiting.append(name)
            for dependency in probes[name].depends_on:
                visit(dependency)
            visiting.pop()
            done[name] = None

        for name in probes:
            visit(name)
        return tuple(done)


def parse_listen(value: Any, fail: Any) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:9464`` for IPv6) as a (host, port) pair."""
    if isinstance(value, str):
        try:
            without_whitespace(value)
        except Invalid as exc:
            raise fail(str(exc)) from None
    match = re.fullmatch(r"\[?([^\[\]]*?)\]?:(\d{1,5})", value) if isinstance(value, str) else None
    if match is None or not match.group(1) or not 1 <= int(match.group(2)) <= 65535:
        raise fail(f"must be HOST:PORT, got {describe(value)}")
    return match.group(1), int(match.group(2))


def _key(key: Any) -> str:
    """A key as it can appear in a one-line message: odd ones quoted and shortened."""
    text = str(key)
    return text if _PROBE_NAME.fullmatch(text) and len(text) <= 80 else describe(text)
