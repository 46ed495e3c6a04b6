"""Walking: bad files are reported and skipped, symlinks and vendored trees are not entered."""

from __future__ import annotations

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
