"""Environment checks: required variables per explicit source, weak passwords, .env files
tracked by git or readable by others."""

from __future__ import annotations

import subprocess
from pathlib import Path

from dbsbm_audit.scanner import ScanOptions, scan

STRONG = "MYSQL_PASSWORD=vK9#pQ2!xL7@mN4$\nREDIS_PASSWORD=w3Jd8-Qz1_Lp5.Xr\n"


def _env(result) -> list:
    """The ENV findings: what these tests are about (a .env's secrets also get CRED rules)."""
    return [f for f in result.findings if f.rule_id.startswith("DBSBM-ENV-")]


def _rules(result) -> list[tuple[str, str]]:
    return sorted((f.rule_id, f.message.split()[0]) for f in _env(result))


def test_no_source_no_required_check(tmp_path: Path) -> None:
    """Without a .env, --env-file or --process-env nothing is claimed about the environment."""
    (tmp_path / "bot.py").write_text("x = 1\n")
    result = scan(ScanOptions(paths=[tmp_path]))
    assert result.findings == [] and result.env_sources == []


def test_required_from_env_file(tmp_path: Path) -> None:
    """--env-file is a named source: missing and empty variables are each reported."""
    env = tmp_path / "deploy.env"
    env.write_text(STRONG + "DISCORD_TOKEN=\n")
    env.chmod(0o600)
    result = scan(ScanOptions(paths=[tmp_path / "deploy.env"], env_files=[env]))
    assert _rules(result) == [("DBSBM-ENV-001", "DBSBM_ENV"), ("DBSBM-ENV-001", "DISCORD_TOKEN")]
    assert any(f.message == f"DISCORD_TOKEN empty (checked: {env})" for f in result.findings)


def test_required_from_process_env_and_env_file(tmp_path: Path) -> None:
    """A variable present in any source counts; a tree's .env is only a source when named."""
    (tmp_path / ".env").write_text(STRONG)
    (tmp_path / ".env").chmod(0o600)
    assert scan(ScanOptions(paths=[tmp_path])).env_sources == []
    process = {"DISCORD_TOKEN": "t", "DBSBM_ENV": "production", "REDIS_PASSWORD": "abc"}
    result = scan(ScanOptions(paths=[tmp_path], env_files=[tmp_path / ".env"], process_env=process))
    assert result.env_sources == [str(tmp_path / ".env"), "process environment"]
    assert _rules(result) == [("DBSBM-ENV-002", "REDIS_PASSWORD")]
    assert _env(result)[0].file == "<environment>"


def test_weak_passwords_in_env_file(tmp_path: Path) -> None:
    """Short and common passwords are flagged with their line; templates are not."""
    (tmp_path / "prod.env").write_text(
        "MYSQL_PASSWORD=root\nREDIS_PASSWORD=abc12\nDB_PWD=Xy7#kLm9Qw\n"
    )
    (tmp_path / ".env.example").write_text("MYSQL_PASSWORD=changeme\n")
    for p in tmp_path.iterdir():
        p.chmod(0o600)
    result = scan(ScanOptions(paths=[tmp_path]))
    assert [(f.rule_id, f.line) for f in _env(result)] == [
        ("DBSBM-ENV-002", 1),
        ("DBSBM-ENV-002", 2),
    ]


def test_env_file_readable_by_others(tmp_path: Path) -> None:
    """Mode 644 is flagged, 600 is not."""
    (tmp_path / ".env").write_text(STRONG + "DISCORD_TOKEN=t\nDBSBM_ENV=production\n")
    (tmp_path / ".env").chmod(0o644)
    assert _rules(scan(ScanOptions(paths=[tmp_path]))) == [("DBSBM-ENV-004", "mode")]
    (tmp_path / ".env").chmod(0o640)
    assert _rules(scan(ScanOptions(paths=[tmp_path]))) == [("DBSBM-ENV-004", "mode")]
    (tmp_path / ".env").chmod(0o600)
    assert _env(scan(ScanOptions(paths=[tmp_path]))) == []


def test_env_file_tracked_by_git(tmp_path: Path) -> None:
    """git ls-files in the scanned repo: a tracked .env holding secrets is flagged; an
    untracked one, or a tracked one of plain settings, is not."""
    repo = tmp_path / "repo"
    (repo / "config").mkdir(parents=True)
    tracked, untracked, settings = repo / "config" / "prod.env", repo / ".env", repo / "images.env"
    for p in (tracked, untracked):
        p.write_text(STRONG)
    settings.write_text("REDIS_IMAGE=redis:7.4-alpine\nGRAFANA_PORT=3000\nMYSQL_PASSWORD=\n")
    for p in (tracked, untracked, settings):
        p.chmod(0o600)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "add", "config/prod.env", "images.env"], check=True)
    result = scan(ScanOptions(paths=[repo]))
    tracked_findings = [
        (f.rel_path, f.message) for f in result.findings if f.rule_id == "DBSBM-ENV-003"
    ]
    assert tracked_findings == [
        ("config/prod.env", "tracked by git and holds MYSQL_PASSWORD, REDIS_PASSWORD")
    ]


def test_env_file_secrets_are_reported_per_line(tmp_path: Path) -> None:
    """Every real secret in a .env gets its own line and the rule it would get in code;
    placeholders, templates and test fixtures stay quiet; a weak password is ENV-002 only."""
    (tmp_path / ".env.production").write_text(
        "DISCORD_TOKEN=MTA4NzY1NDMyMTA5ODc2NTQzMj.GhIjKl.abcdefghijklmnopqrstuvwxyz1\n"
        "MYSQL_PASSWORD=vK9#pQ2!xL7@mN4$\n"
        "API_SPORTS_KEY=8c1d2f7e9a3b4c5d6e7f8a9b0c1d2e3f\n"
        "REDIS_PASSWORD=root\n"
        "DATABASE_URL=mysql://bot:s3cretpw@db/dbsbm\n"
        "OPENAI_API_KEY=${OPENAI_API_KEY}\n"
        "SENTRY_DSN=\n"
        "GRAFANA_PASSWORD=changeme\n"
        "WEATHER_API_KEY=your-weather-key-here\n"
    )
    (tmp_path / ".env.test").write_text("MYSQL_PASSWORD=vK9#pQ2!xL7@mN4$\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / ".env").write_text("MYSQL_PASSWORD=vK9#pQ2!xL7@mN4$\n")
    for p in (tmp_path / ".env.production", tmp_path / ".env.test", tmp_path / "tests" / ".env"):
        p.chmod(0o600)
    result = scan(ScanOptions(paths=[tmp_path]))
    assert [(f.rel_path, f.line, f.rule_id) for f in result.findings] == [
        (".env.production", 1, "DBSBM-CRED-004"),
        (".env.production", 2, "DBSBM-CRED-001"),
        (".env.production", 3, "DBSBM-CRED-002"),
        (".env.production", 4, "DBSBM-ENV-002"),
        (".env.production", 5, "DBSBM-CRED-003"),
    ]
