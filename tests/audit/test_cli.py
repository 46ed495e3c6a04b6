"""The command line: exit codes for CI, output formats, usage errors as one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.audit.conftest import CORPUS

VULN_SQL = CORPUS / "sql" / "vuln_sql.py"
SAFE_SQL = CORPUS / "sql" / "safe_sql.py"


def test_clean_tree_exits_0(run_audit) -> None:
    """Safe code gives exit 0 and a summary saying so."""
    code, out, _ = run_audit(SAFE_SQL)
    assert code == 0
    assert out.strip().endswith("environment checked: none (pass --env-file or --process-env)")
    assert "0 findings" in out


def test_findings_at_threshold_exit_1(run_audit) -> None:
    """High findings fail the default threshold; text groups them with file:line and a fix."""
    code, out, _ = run_audit(VULN_SQL)
    assert code == 1
    assert out.startswith("HIGH (12)\n")
    assert f"{VULN_SQL}:7  DBSBM-SQL-001" in out
    assert "fix: Pass values as parameters" in out


def test_fail_on_above_findings_exits_0(run_audit, tmp_path: Path) -> None:
    """Only medium findings and --fail-on high: reported but not failing."""
    src = tmp_path / "main.py"
    src.write_text("import logging\nlogging.basicConfig(level=logging.DEBUG)\n")
    code, out, _ = run_audit(src)
    assert code == 0 and "MEDIUM (1)" in out and "DBSBM-DEBUG-002" in out
    code, _, _ = run_audit(src, "--fail-on", "medium")
    assert code == 1


def test_json_format(audit_json) -> None:
    """JSON carries rule, severity, location, fix and fingerprint, never the secret value."""
    doc = audit_json(CORPUS / "credentials" / "vuln_credentials.py")
    first = doc["findings"][0]
    assert set(first) == {"rule_id", "severity", "file", "line", "message", "fix", "fingerprint"}
    assert doc["summary"]["critical"] == 4  # Discord token, AWS key, JWT, private key
    assert "a8f5f167f44f4964e6c998dee827110c" not in json.dumps(doc)


def test_output_file(run_audit, tmp_path: Path) -> None:
    """--output writes the report to a file and keeps stdout empty."""
    target = tmp_path / "report.sarif"
    code, out, _ = run_audit(VULN_SQL, "--format", "sarif", "--output", target)
    assert code == 1 and out == ""
    assert json.loads(target.read_text())["version"] == "2.1.0"


def test_missing_path_is_usage_error(run_audit, tmp_path: Path) -> None:
    """A path that does not exist: exit 2 and one line naming it."""
    code, out, err = run_audit(tmp_path / "nope")
    assert code == 2 and out == ""
    assert err == f"dbsbm-audit: error: path not found: {tmp_path / 'nope'}\n"


def test_bad_baseline_is_usage_error(run_audit, tmp_path: Path) -> None:
    """A baseline that is not JSON: exit 2, one line."""
    bad = tmp_path / "baseline.json"
    bad.write_text("{not json")
    code, _, err = run_audit(SAFE_SQL, "--baseline", bad)
    assert code == 2 and err.count("\n") == 1 and "is not JSON" in err


def test_binary_env_file_is_usage_error(run_audit, tmp_path: Path) -> None:
    """A binary or non-UTF-8 --env-file is refused with the scanner's own check: exit 2 and
    one line naming the file, instead of parsing replacement characters as variables."""
    blob = tmp_path / "deploy.env"
    blob.write_bytes(b"\x00\x01MYSQL_PASSWORD=x\n")
    code, out, err = run_audit(SAFE_SQL, "--env-file", blob)
    assert code == 2 and out == ""
    assert err == f"dbsbm-audit: error: --env-file {blob}: binary file\n"
    latin = tmp_path / "latin.env"
    latin.write_bytes(b"MYSQL_PASSWORD=caf\xe9\n")
    code, _, err = run_audit(SAFE_SQL, "--env-file", latin)
    assert code == 2
    assert err == f"dbsbm-audit: error: --env-file {latin}: not UTF-8 (byte 18)\n"


def test_argparse_errors_are_one_line_exit_2() -> None:
    """Bad options through the real console script: exit 2, one stderr line, no traceback."""
    for argv in (["--fail-on", "severe", str(SAFE_SQL)], ["--format", "xml", str(SAFE_SQL)], []):
        proc = subprocess.run(
            [sys.executable, "-m", "dbsbm_audit.cli", *argv],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert proc.returncode == 2, argv
        assert proc.stdout == ""
        assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("dbsbm-audit: error:")
        assert "Traceback" not in proc.stderr


def test_console_script_runs() -> None:
    """The installed entry point scans and exits with the findings code."""
    proc = subprocess.run(
        ["dbsbm-audit", str(VULN_SQL), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout)["summary"]["high"] == 12


def test_this_repository_passes_its_own_audit() -> None:
    """Our shipped code, deploy files and demo pass ``dbsbm-audit`` at the default gate."""
    repo = Path(__file__).resolve().parents[2]
    paths = [str(repo / p) for p in ("instrumentation", "agent", "examples", "deploy", "scripts")]
    result = subprocess.run(
        [sys.executable, "-m", "dbsbm_audit.cli", *paths],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
