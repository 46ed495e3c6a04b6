"""Walks the scanned trees, runs every rule family per file, never crashes on one file.

Never a silent pass: every file the walk selects is either scanned or listed as not scanned
with its reason (the CLI then exits non-zero). Only regular files are opened: a FIFO named
``x.py`` would block the scan, a device could be endless. Python files are decoded as their
PEP 263 declaration says. Symbolic links are not followed (a link to /etc must not pull /etc
into the report); a link to a file inside a scanned root is covered by that file and not
listed. Version-control, virtualenv, cache and node_modules directories are not entered.
"""

from __future__ import annotations

import ast
import fnmatch
import io
import os
import stat
import tokenize
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dbsbm_audit.bandit_runner import calls_eval_or_exec, run_bandit
from dbsbm_audit.findings import BANDIT_IDS, Finding, Skipped
from dbsbm_audit.rules import credentials, debug, environment, execution, sql
from dbsbm_audit.rules.scopes import Scopes
from dbsbm_audit.suppress import is_suppressed, suppressions

SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "node_modules",
        "__pycache__",
        ".venv",
        "venv",
        ".tox",
        ".nox",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        "site-packages",
        ".eggs",
    }
)
CONFIG_SUFFIXES = frozenset({".yaml", ".yml", ".json", ".ini", ".cfg", ".toml"})
# Bigger files are listed as not scanned; a Python module this size is generated data.
MAX_FILE_BYTES = 64 * 1024 * 1024


@dataclass
class ScanOptions:
    paths: list[Path]
    env_files: list[Path] = field(default_factory=list)
    process_env: Mapping[str, str] | None = None  # the environment to check, if any
    excludes: list[str] = field(default_factory=list)


@dataclass
class ScanResult:
    findings: list[Finding]
    skipped: list[Skipped]
    env_sources: list[str]
    files_scanned: int


@dataclass
class _File:
    path: Path
    display: str
    rel: str
    lines: list[str]
    tree: ast.Module | None = None
    scopes: Scopes | None = None
    candidates: list[credentials.Candidate] | None = None


def decode(data: bytes) -> str:
    """A scanned file's text; ValueError saying why it is not text (binary, not UTF-8).
    Shared with the CLI's --env-file check so both refuse the same files."""
    if b"\0" in data[:8192]:
        raise ValueError("binary file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 (byte {exc.start})") from None


def decode_python(data: bytes) -> str:
    """A Python module's text in the encoding its PEP 263 declaration (or BOM) names, as the
    interpreter would read it; ValueError when the declaration is bad or the bytes are not."""
    if b"\0" in data[:8192]:
        raise ValueError("binary file")
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        raise ValueError(f"bad encoding declaration: {exc.msg}") from None
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise ValueError(f"not valid {encoding} (byte {exc.start})") from None


def file_kind_problem(mode: int) -> str | None:
    """Why a path that is not a regular file is never opened; None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISFIFO(mode):
        return "named pipe (FIFO), not opened"
    if stat.S_ISSOCK(mode):
        return "socket, not opened"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device, not opened"
    return "not a regular file, not opened"


def read_regular(path: Path) -> bytes:
    """The bytes of a regular file: OSError when it cannot be read, ValueError when it is not
    a regular file or too big. Opened non-blocking and checked again on the descriptor, so a
    file swapped for a FIFO after the walk cannot hang the scan."""
    problem = file_kind_problem(os.stat(path).st_mode)
    if problem:
        raise ValueError(problem)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fh.fileno())
        problem = file_kind_problem(info.st_mode)
        if problem:
            raise ValueError(problem)
        if info.st_size > MAX_FILE_BYTES:
            raise ValueError(f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
        return fh.read()


def split_lines(text: str) -> list[str]:
    """Lines as Python numbers them (\n, \r\n, \r only): ``str.splitlines`` also splits on
    form feeds and U+2028, which would shift every later line number."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return lines[:-1] if lines and lines[-1] == "" else lines


def _is_test(rel: str) -> bool:
    parts = rel.split("/")
    name = parts[-1]
    return (
        any(p in {"tests", "test"} for p in parts[:-1])
        or name.startswith("test_")
        or name.endswith("_test.py")
        or name == "conftest.py"
    )


def _is_venv(dirpath: str) -> bool:
    return os.path.exists(os.path.join(dirpath, "pyvenv.cfg"))


def _kind(name: str) -> str | None:
    if name.endswith((".py", ".pyw")):
        return "python"
    if environment.is_env_file(name):
        return "env"
    if os.path.splitext(name)[1].lower() in CONFIG_SUFFIXES:
        return "config"
    return None


class Scanner:
    def __init__(self, options: ScanOptions) -> None:
        self.options = options
        self.findings: list[Finding] = []
        self.skipped: list[Skipped] = []
        self.files_scanned = 0
        self._lines: dict[str, list[str]] = {}  # file -> its lines, for suppression comments
        self._roots = [os.path.realpath(p) for p in options.paths]

    # --- walking ---------------------------------------------------------------------------
    def _excluded(self, rel: str) -> bool:
        return any(
            fnmatch.fnmatch(rel, pattern) or fnmatch.fnmatch(rel, pattern.rstrip("/") + "/*")
            for pattern in self.options.excludes
        )

    def _walk(self, root: Path) -> Iterator[tuple[Path, str, str]]:
        """(path, display, rel) of files we scan under one root."""
        try:
            mode = os.stat(root).st_mode
        except OSError as exc:
            self.skipped.append(Skipped(str(root), f"unreadable: {exc.strerror or exc}"))
            return
        if not stat.S_ISDIR(mode):
            problem = file_kind_problem(mode)
            if problem:
                self.skipped.append(Skipped(str(root), problem))
            elif _kind(root.name) is None:
                self.skipped.append(Skipped(str(root), "not a file type dbsbm-audit reads"))
            else:
                yield root, str(root), root.name
            return
        for dirpath, dirnames, filenames in os.walk(
            root, followlinks=False, onerror=self._unreadable_dir
        ):
            kept = []
            for d in sorted(dirnames):
                full = os.path.join(dirpath, d)
                rel = os.path.relpath(full, root).replace(os.sep, "/")
                if d in SKIP_DIRS or self._excluded(rel):
                    continue
                if os.path.islink(full):
                    self._link(full)
                elif not _is_venv(full):
                    kept.append(d)
            dirnames[:] = kept
            for name in sorted(filenames):
                full = os.path.join(dirpath, name)
                rel = os.path.relpath(full, root).replace(os.sep, "/")
                if _kind(name) is None or self._excluded(rel):
                    continue
                try:
                    mode = os.lstat(full).st_mode
                except OSError as exc:  # removed while we walked
                    self.skipped.append(Skipped(full, f"unreadable: {exc.strerror or exc}"))
                    continue
                if stat.S_ISLNK(mode):
                    self._link(full)
                    continue
                problem = file_kind_problem(mode)
                if problem:
                    self.skipped.append(Skipped(full, problem))
                    continue
                yield Path(full), full, rel

    def _link(self, full: str) -> None:
        """A link into a scanned root is covered by its target; any other is not scanned."""
        target = os.path.realpath(full)
        if os.path.exists(target) and any(
            os.path.commonpath([target, root]) == root for root in self._roots
        ):
            return
        self.skipped.append(Skipped(full, "symbolic link not followed"))

    def _unreadable_dir(self, exc: OSError) -> None:
        """os.walk drops a directory it cannot list; report it like an unreadable file."""
        self.skipped.append(
            Skipped(str(exc.filename), f"unreadable directory: {exc.strerror or exc}")
        )

    def _read(self, path: Path, display: str) -> list[str] | None:
        try:
            data = read_regular(path)
            text = decode_python(data) if _kind(path.name) == "python" else decode(data)
        except OSError as exc:
            self.skipped.append(Skipped(display, f"unreadable: {exc.strerror or exc}"))
            return None
        except ValueError as exc:
            self.skipped.append(Skipped(display, str(exc)))
            return None
        return split_lines(text)

    # --- per-file rules --------------------------------------------------------------------
    def _emit(
        self,
        f: _File,
        rule_id: str,
        line: int,
        message: str,
        context: str | None = None,
        flow: tuple[tuple[int, str], ...] = (),
    ) -> None:
        if context is None:
            # Findings not on a line are identified by their first word (variable name).
            context = f.lines[line - 1] if 0 < line <= len(f.lines) else message.split()[0]
        self._lines[f.display] = f.lines
        self.findings.append(Finding(rule_id, f.display, line, message, f.rel, context, flow))

    def _python(self, f: _File, bandit_hits: list[tuple[str, int]]) -> None:
        assert f.tree is not None
        scopes = f.scopes or Scopes(f.tree)
        nodes = scopes.all
        for hit in credentials.python_findings(
            nodes, f.lines, f.display, bandit_hits, scopes, f.candidates
        ):
            self._emit(f, hit.rule_id, hit.line, hit.message, flow=hit.flow)
        for s in sql.check(f.tree, nodes, scopes):
            self._emit(f, "DBSBM-SQL-001", s.line, s.message, flow=s.flow)
        for d in debug.python_findings(f.tree, _is_test(f.rel), f.rel, f.lines, scopes):
            self._emit(f, d.rule_id, d.line, d.message, flow=d.flow)
        for e in execution.python_findings(nodes, bandit_hits, scopes):
            self._emit(f, e.rule_id, e.line, e.message, flow=e.flow)

    def _config(self, f: _File) -> None:
        for hit in credentials.config_findings(f.display, f.lines):
            self._emit(f, hit.rule_id, hit.line, hit.message)
        for d in debug.config_findings(f.rel, f.lines):
            self._emit(f, d.rule_id, d.line, d.message)

    def _env_file(self, f: _File, tracked: set[Path] | None) -> None:
        """Each secret on its line, weak passwords, and how the file is kept. Templates
        (``.env.example``) and test fixtures hold placeholders by design."""
        for d in debug.config_findings(f.rel, f.lines):
            self._emit(f, d.rule_id, d.line, d.message)
        pairs = environment.parse_env("\n".join(f.lines))
        if _is_test(f.rel) or environment.is_fixture(f.path.name):
            return
        if environment.is_template(f.path.name):
            # placeholders by design, but a real token pasted into an example still leaks
            for hit in credentials.env_line_findings(f.display, pairs, f.lines, by_name=False):
                self._emit(f, hit.rule_id, hit.line, hit.message)
            return
        real = [(n, k, v) for n, k, v in pairs if not credentials.is_env_placeholder(k, v)]
        source = environment.source_from_pairs(real, f.display)
        weak = environment.weak_password_hits(source)
        for h in weak:
            self._emit(f, h.rule_id, h.line, h.message)
        weak_lines = {h.line for h in weak}
        for hit in credentials.env_line_findings(f.display, pairs, f.lines):
            if hit.line not in weak_lines:  # one finding per secret: "too weak" says more
                self._emit(f, hit.rule_id, hit.line, hit.message)
        held = environment.secret_names(source)
        if not held:  # a .env of plain settings (image tags, ports) exposes nothing
            return
        if tracked is not None and f.path.resolve() in tracked:
            self._emit(
                f,
                "DBSBM-ENV-003",
                0,
                f"tracked by git and holds {', '.join(held)}",
                context="tracked",
            )
        for h in environment.file_mode_hits(f.path):
            self._emit(f, h.rule_id, h.line, h.message, context="mode")

    # --- the run ---------------------------------------------------------------------------
    def run(self) -> ScanResult:
        python: list[_File] = []
        env_sources: list[environment.EnvSource] = []
        for root in self.options.paths:
            tracked = environment.git_tracked(root)
            for path, display, rel in self._walk(root):
                lines = self._read(path, display)
                if lines is None:
                    continue
                f = _File(path, display, rel, lines)
                kind = _kind(path.name)
                try:
                    if kind == "python":
                        f.tree = ast.parse("\n".join(lines), filename=display)
                        python.append(f)
                        continue  # counted once its rules have run
                    elif kind == "env":
                        self._env_file(f, tracked)
                    else:
                        self._config(f)
                    self.files_scanned += 1
                except SyntaxError as exc:
                    self.skipped.append(
                        Skipped(display, f"SyntaxError line {exc.lineno}: {exc.msg}")
                    )
                except Exception as exc:  # one bad file must not stop the scan
                    self.skipped.append(
                        Skipped(display, f"internal error: {type(exc).__name__}: {exc}")
                    )
        self._run_python(python)
        for path in self.options.env_files:
            lines = self._read(path, str(path))
            if lines is None:
                continue
            source = environment.source_from_text("\n".join(lines), str(path))
            env_sources.append(source)
            f = _File(path, str(path), str(path), lines)
            for h in environment.weak_password_hits(source):
                self._emit(f, h.rule_id, h.line, h.message)
        if self.options.process_env is not None:
            source = environment.process_source(self.options.process_env)
            env_sources.append(source)
            for h in environment.weak_password_hits(source):
                self.findings.append(
                    Finding(
                        h.rule_id,
                        "<environment>",
                        0,
                        h.message,
                        "<environment>",
                        h.message.split()[0],
                    )
                )
        for owner, h in environment.required_hits(env_sources):
            where = (
                owner.label if owner and owner.label != "process environment" else "<environment>"
            )
            self.findings.append(
                Finding(h.rule_id, where, 0, h.message, where, h.message.split()[0])
            )
        return ScanResult(
            self._filtered(), self.skipped, [s.label for s in env_sources], self.files_scanned
        )

    def _run_python(self, files: list[_File]) -> None:
        for f in files:
            assert f.tree is not None
            f.scopes = Scopes(f.tree)
            f.candidates = credentials.reported_candidates(f.scopes.all)
        try:
            bandit_hits = run_bandit(
                [
                    f.display
                    for f in files
                    if (f.candidates and credentials.needs_bandit_confirmation(f.candidates))
                    or (f.scopes and calls_eval_or_exec(f.scopes.all))
                ]
            )
        except Exception as exc:  # bandit failing must not hide our results
            self.skipped.append(Skipped("<bandit>", f"bandit failed: {type(exc).__name__}: {exc}"))
            bandit_hits = {}
        for f in files:
            try:
                self._python(f, bandit_hits.get(f.display, []))
                self.files_scanned += 1
            except Exception as exc:  # one bad file must not stop the scan
                self.skipped.append(
                    Skipped(f.display, f"internal error: {type(exc).__name__}: {exc}")
                )

    def _filtered(self) -> list[Finding]:
        """Drop suppressed lines and duplicates; sort by file and line."""
        lines_by_file: dict[str, dict[int, frozenset[str]]] = {}
        seen: set[tuple[str, str, int, str]] = set()
        kept = []
        for finding in self.findings:
            key = (finding.rule_id, finding.file, finding.line, finding.message)
            if key in seen:
                continue
            seen.add(key)
            if finding.line > 0:
                if finding.file not in lines_by_file:
                    lines_by_file[finding.file] = suppressions(self._lines.get(finding.file, []))
                ids = lines_by_file[finding.file].get(finding.line)
                if ids and is_suppressed(
                    finding.rule_id, BANDIT_IDS.get(finding.rule_id, frozenset()), ids
                ):
                    continue
            kept.append(finding)
        return sorted(kept, key=lambda f: (f.file, f.line, f.rule_id))


def scan(options: ScanOptions) -> ScanResult:
    return Scanner(options).run()
