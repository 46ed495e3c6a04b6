"""Walking: bad files are reported and skipped, symlinks and vendored trees are not entered."""

from __future__ import annotations

import json
import os
from pathlib import Path

from dbsbm_audit.scanner import ScanOptions, scan

VULN = 'async def q(db, t):\n    return await db.fetch_all(f"SELECT * FROM {t}")\n'


def test_unparseable_and_binary_files_are_skipped(run_audit, tmp_path: Path) -> None:
    """A syntax error and a binary .py are listed as skipped; the rest is still scanned."""
    (tmp_path / "broken.py").write_text("x = 1\n\ndef f(:\n")
    (tmp_path / "blob.py").write_bytes(b"\x00\x01\x02PK\x03\x04")
    (tmp_path / "latin.yaml").write_bytes(b"name: caf\xe9\n")
    (tmp_path / "db.py").write_text(VULN)
    code, out, _ = run_audit(tmp_path)
    assert code == 1
    assert f"skipped: {tmp_path / 'broken.py'}: SyntaxError line 3" in out
    assert f"skipped: {tmp_path / 'blob.py'}: binary file" in out
    assert f"skipped: {tmp_path / 'latin.yaml'}: not UTF-8" in out
    assert f"{tmp_path / 'db.py'}:2  DBSBM-SQL-001" in out


def test_symlinks_out_of_tree_are_not_followed(tmp_path: Path) -> None:
    """Links to /etc (directory and file) are reported as skipped, never read."""
    (tmp_path / "etc").symlink_to("/etc")
    (tmp_path / "passwd.cfg").symlink_to("/etc/passwd")
    (tmp_path / "db.py").write_text(VULN)
    result = scan(ScanOptions(paths=[tmp_path]))
    assert {s.reason for s in result.skipped} == {"symbolic link not followed"}
    assert {Path(s.file).name for s in result.skipped} == {"etc", "passwd.cfg"}
    assert all(f.file.startswith(str(tmp_path)) and "/etc/" not in f.file for f in result.findings)
    assert result.files_scanned == 1


def test_vendored_and_cache_directories_are_skipped(tmp_path: Path) -> None:
    """.git, venvs (by name or pyvenv.cfg), node_modules and __pycache__ are not entered."""
    for d in (".git", "venv", "node_modules", "__pycache__", "env3"):
        (tmp_path / d).mkdir()
        (tmp_path / d / "db.py").write_text(VULN)
    (tmp_path / "env3" / "pyvenv.cfg").write_text("home = /usr\n")
    (tmp_path / "bot").mkdir()
    (tmp_path / "bot" / "db.py").write_text(VULN)
    result = scan(ScanOptions(paths=[tmp_path]))
    assert [f.rel_path for f in result.findings] == ["bot/db.py"]


def test_exclude_glob(tmp_path: Path) -> None:
    """--exclude drops matching paths relative to the root."""
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "db.py").write_text(VULN)
    (tmp_path / "db.py").write_text(VULN)
    result = scan(ScanOptions(paths=[tmp_path], excludes=["tests"]))
    assert [f.rel_path for f in result.findings] == ["db.py"]


def test_unreadable_file_is_skipped(tmp_path: Path) -> None:
    """A file we cannot open is reported, not fatal (skipped when running as root)."""
    src = tmp_path / "secret.py"
    src.write_text(VULN)
    src.chmod(0)
    try:
        result = scan(ScanOptions(paths=[tmp_path]))
    finally:
        src.chmod(0o600)
    if os.geteuid() != 0:
        assert result.skipped[0].reason.startswith("unreadable")
    assert result.files_scanned + len(result.skipped) == 1


def test_unreadable_directory_is_reported(run_audit, monkeypatch, tmp_path: Path) -> None:
    """A subdirectory os.walk cannot list is reported as skipped, not dropped silently.
    Simulated: the tests run as root, where chmod 000 denies nothing."""
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / "db.py").write_text(VULN)
    (tmp_path / "db.py").write_text(VULN)
    real_scandir = os.scandir

    def scandir(path):
        if os.fspath(path) == str(tmp_path / "locked"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    result = scan(ScanOptions(paths=[tmp_path]))
    assert [(s.file, s.reason) for s in result.skipped] == [
        (str(tmp_path / "locked"), "unreadable directory: Permission denied")
    ]
    assert [f.rel_path for f in result.findings] == ["db.py"]
    _, out, _ = run_audit(tmp_path)
    assert f"skipped: {tmp_path / 'locked'}: unreadable directory: Permission denied" in out


def test_binary_env_file_is_skipped(tmp_path: Path) -> None:
    """An env file given to the scanner is read like any scanned file: a binary one is
    skipped, not parsed into variables."""
    blob = tmp_path / "deploy.env"
    blob.write_bytes(b"\x00\x01MYSQL_PASSWORD=x\n")
    (tmp_path / "tree").mkdir()
    result = scan(ScanOptions(paths=[tmp_path / "tree"], env_files=[blob]))
    assert [(s.file, s.reason) for s in result.skipped] == [(str(blob), "binary file")]
    assert result.env_sources == [] and result.findings == []


# --- never a silent pass -----------------------------------------------------------------------
def test_large_python_file_is_scanned(tmp_path: Path) -> None:
    """A 6 MB module is scanned like any other: its hardcoded password is found."""
    big = tmp_path / "generated.py"
    with big.open("w") as fh:
        fh.write('DB_PASSWORD = "Kq8#vLm2!xPz9"\n')
        while fh.tell() < 6 * 1024 * 1024:
            fh.write(f"ROW_{fh.tell()} = {'ab' * 2000!r}\n")
    result = scan(ScanOptions(paths=[tmp_path]))
    assert result.skipped == [] and result.files_scanned == 1
    assert [(f.rule_id, f.line) for f in result.findings] == [("DBSBM-CRED-001", 1)]


def test_pep263_encoding_is_honoured(tmp_path: Path) -> None:
    """A latin-1 module with its coding declaration is decoded as Python would, so the
    password on line 3 is found; a module whose bytes contradict its declaration is listed."""
    (tmp_path / "latin.py").write_bytes(
        '# -*- coding: latin-1 -*-\n"""Café."""\nDB_PASSWORD = "Kq8#vLm2!xPzé"\n'.encode("latin-1")
    )
    (tmp_path / "lying.py").write_bytes(b"# coding: ascii\nx = '\xe9'\n")
    (tmp_path / "bogus.py").write_bytes(b"# coding: no-such-codec\nx = 1\n")
    result = scan(ScanOptions(paths=[tmp_path]))
    assert [(f.rel_path, f.line) for f in result.findings] == [("latin.py", 3)]
    reasons = {Path(s.file).name: s.reason for s in result.skipped}
    assert reasons["lying.py"] == "not valid ascii (byte 21)"
    assert reasons["bogus.py"].startswith("bad encoding declaration")


def test_form_feed_does_not_shift_line_numbers(tmp_path: Path) -> None:
    """Lines are numbered as Python numbers them (a form feed is not a line break)."""
    (tmp_path / "ff.py").write_text(
        'import os\n\x0c\ndef q(db, t):\n    return db.execute(f"SELECT {t}")\n'
    )
    result = scan(ScanOptions(paths=[tmp_path]))
    assert [(f.rule_id, f.line) for f in result.findings] == [("DBSBM-SQL-001", 4)]


def test_fifo_in_tree_and_as_path_is_never_opened(run_audit, tmp_path: Path) -> None:
    """A FIFO named like a module is listed, not opened (opening it would hang the scan),
    whether found by the walk or given as the path; the exit code says files went unscanned."""
    os.mkfifo(tmp_path / "x.py")
    (tmp_path / "ok.py").write_text("x = 1\n")
    code, out, _ = run_audit(tmp_path)
    assert code == 3
    assert f"skipped: {tmp_path / 'x.py'}: named pipe (FIFO), not opened" in out
    assert "0 findings" in out and "1 files scanned, 1 not scanned" in out
    code, out, _ = run_audit(tmp_path / "x.py")
    assert code == 3 and "named pipe (FIFO), not opened" in out
    code, _, err = run_audit(tmp_path / "ok.py", "--env-file", tmp_path / "x.py")
    assert (
        code == 2
        and err
        == f"dbsbm-audit: error: --env-file {tmp_path / 'x.py'}: named pipe (FIFO), not opened\n"
    )


def test_unscanned_files_fail_unless_allowed(run_audit, tmp_path: Path) -> None:
    """Any file not scanned makes the exit non-zero (3) unless --allow-unscanned; findings
    at the threshold still win (1); the JSON summary counts both."""
    (tmp_path / "broken.py").write_text("def f(:\n")
    (tmp_path / "ok.py").write_text("x = 1\n")
    assert run_audit(tmp_path)[0] == 3
    assert run_audit(tmp_path, "--allow-unscanned")[0] == 0
    code, out, _ = run_audit(tmp_path, "--format", "json")
    summary = json.loads(out)["summary"]
    assert code == 3 and (summary["files_scanned"], summary["not_scanned"]) == (1, 1)
    (tmp_path / "db.py").write_text(VULN)
    assert run_audit(tmp_path)[0] == 1


def test_explicit_file_of_unknown_type_is_listed(run_audit, tmp_path: Path) -> None:
    """A path given on the command line that the audit does not read is said so, not dropped."""
    notes = tmp_path / "NOTES.md"
    notes.write_text("password: hunter2\n")
    code, out, _ = run_audit(notes)
    assert code == 3 and f"skipped: {notes}: not a file type dbsbm-audit reads" in out


def test_link_inside_the_tree_is_covered_by_its_target(tmp_path: Path) -> None:
    """A link to a scanned file is not listed as unscanned: its target is scanned."""
    (tmp_path / "db.py").write_text(VULN)
    (tmp_path / "alias.py").symlink_to(tmp_path / "db.py")
    result = scan(ScanOptions(paths=[tmp_path]))
    assert result.skipped == [] and [f.rel_path for f in result.findings] == ["db.py"]
