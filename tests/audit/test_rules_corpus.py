"""Precision and recall of every line-based rule on the labelled corpus (tests/audit/corpus).

Vulnerable lines carry ``# expect: RULE-ID[, RULE-ID]``; JSON files, which cannot hold
comments, list theirs in ``<file>.expect`` as ``LINE: RULE-ID``. Files without expectations
are safe code and must produce nothing. The rules not tied to a line (required variables,
git tracking, file mode) are scored the same way on labelled fixtures built per run
(``ENV_FILES``, ``ENV_SOURCES``): git keeps no file modes beyond 644/755 and cannot hold an
untracked file, so a committed corpus could not carry those labels.
"""

from __future__ import annotations

import re
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest

from dbsbm_audit.findings import RULES
from dbsbm_audit.scanner import ScanOptions, scan
from tests.audit.conftest import CORPUS

_EXPECT = re.compile(r"#\s*expect:\s*([A-Z0-9\-, ]+)")
# Rules about files and environments, scored on ENV_FILES / ENV_SOURCES; the rest per line.
FILE_RULES = ["DBSBM-ENV-001", "DBSBM-ENV-003", "DBSBM-ENV-004"]
LINE_RULES = sorted(set(RULES) - set(FILE_RULES))
MIN_PRECISION = 1.0
MIN_RECALL = 1.0
# rule -> (tp, fp, fn) of every scoring run, printed after the tests (conftest.py)
SCORES: dict[str, tuple[int, int, int]] = {}


def _expectations() -> set[tuple[str, int, str]]:
    expected = set()
    for path in CORPUS.rglob("*"):
        if not path.is_file():
            continue
        rel = path.relative_to(CORPUS).as_posix()
        if path.suffix == ".expect":
            for line in path.read_text().splitlines():
                if line.strip() and not line.startswith("#"):
                    lineno, rule = line.split(":", 1)
                    expected.add((rel.removesuffix(".expect"), int(lineno), rule.strip()))
            continue
        for lineno, line in enumerate(path.read_text().splitlines(), start=1):
            m = _EXPECT.search(line)
            if m:
                for rule in filter(None, (r.strip() for r in m.group(1).split(","))):
                    expected.add((rel, lineno, rule))
    return expected


@pytest.fixture(scope="module")
def scores() -> dict[str, tuple[int, int, int]]:
    expected = _expectations()
    result = scan(ScanOptions(paths=[CORPUS]))
    assert not result.skipped, result.skipped
    found = {(f.rel_path, f.line, f.rule_id) for f in result.findings if f.line > 0}
    return _score(found, expected)


def _score(
    found: set[tuple[str, object, str]], expected: set[tuple[str, object, str]]
) -> dict[str, tuple[int, int, int]]:
    """(tp, fp, fn) per rule of (place, detail, rule ID) items."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # tp, fp, fn
    for item in found | expected:
        c = counts[item[2]]
        if item in found and item in expected:
            c[0] += 1
        elif item in found:
            c[1] += 1
        else:
            c[2] += 1
    for rule, (tp, fp, fn) in sorted(counts.items()):
        print(score_line(rule, (tp, fp, fn)))
    mistakes = sorted(found ^ expected)
    print("mismatches:", mistakes)
    scores = {rule: (tp, fp, fn) for rule, (tp, fp, fn) in counts.items()}
    SCORES.update(scores)
    return scores


def score_line(rule: str, counts: tuple[int, int, int]) -> str:
    tp, fp, fn = counts
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return f"{rule}: tp={tp} fp={fp} fn={fn} precision={precision:.2f} recall={recall:.2f}"


def _assert_scores(rule_id: str, scores: dict[str, tuple[int, int, int]]) -> None:
    tp, fp, fn = scores.get(rule_id, (0, 0, 0))
    assert tp > 0, f"{rule_id} has no labelled example"
    assert tp / (tp + fp) >= MIN_PRECISION, f"{rule_id}: {fp} false positives"
    assert tp / (tp + fn) >= MIN_RECALL, f"{rule_id}: {fn} missed"


@pytest.mark.parametrize("rule_id", LINE_RULES)
def test_rule_precision_and_recall(rule_id: str, scores: dict[str, tuple[int, int, int]]) -> None:
    """Every line rule finds all its labelled lines and nothing else in the corpus."""
    _assert_scores(rule_id, scores)


# --- rules about files and environments -------------------------------------------------------
_SECRETS = "MYSQL_PASSWORD=vK9#pQ2!xL7@mN4$\nDISCORD_TOKEN=token-from-the-portal\n"
_SETTINGS = "REDIS_IMAGE=redis:7.4-alpine\nGRAFANA_PORT=3000\nMYSQL_PASSWORD=\n"
# (path, text, mode, tracked by git, expected ENV-003/ENV-004)
ENV_FILES = [
    ("tracked/.env", _SECRETS, 0o600, True, {"DBSBM-ENV-003"}),
    ("tracked/images.env", _SETTINGS, 0o600, True, set()),  # plain settings: nothing exposed
    ("tracked/.env.example", _SECRETS, 0o644, True, set()),  # a template, tracked on purpose
    ("world/.env", _SECRETS, 0o644, False, {"DBSBM-ENV-004"}),
    ("group/prod.env", _SECRETS, 0o640, False, {"DBSBM-ENV-004"}),
    ("world/images.env", _SETTINGS, 0o644, False, set()),
    ("private/.env", _SECRETS, 0o600, False, set()),
    ("both/.env.production", _SECRETS, 0o644, True, {"DBSBM-ENV-003", "DBSBM-ENV-004"}),
]
_COMPLETE = (
    "DISCORD_TOKEN=token-from-the-portal\nMYSQL_PASSWORD=vK9#pQ2!xL7@mN4$\n"
    "REDIS_PASSWORD=w3Jd8-Qz1_Lp5.Xr\nDBSBM_ENV=production\n"
)
# (name, --env-file text or None, process environment or None, variables ENV-001 must name)
ENV_SOURCES = [
    ("complete", _COMPLETE, None, set()),
    (
        "exported-quoted",
        (
            "export DISCORD_TOKEN='token-from-the-portal'\n"
            'export MYSQL_PASSWORD="vK9#pQ2!xL7@mN4$"\n'
            "REDIS_PASSWORD=w3Jd8-Qz1_Lp5.Xr  # rotated monthly\n"
            "DBSBM_ENV=production\n"
        ),
        None,
        set(),
    ),
    (
        "empty-token",
        _COMPLETE.replace("DISCORD_TOKEN=token-from-the-portal", "DISCORD_TOKEN="),
        None,
        {"DISCORD_TOKEN"},
    ),
    (
        "blank-quoted",
        _COMPLETE.replace("DBSBM_ENV=production", 'DBSBM_ENV="  "'),
        None,
        {"DBSBM_ENV"},
    ),
    (
        "commented-out",
        _COMPLETE.replace("REDIS_PASSWORD", "# REDIS_PASSWORD"),
        None,
        {"REDIS_PASSWORD"},
    ),
    (
        "settings-only",
        "DBSBM_ENV=production\nLOG_LEVEL=INFO\n",
        None,
        {"DISCORD_TOKEN", "MYSQL_PASSWORD", "REDIS_PASSWORD"},
    ),
    (
        "split-sources",
        "DISCORD_TOKEN=token-from-the-portal\nDBSBM_ENV=production\n",
        {"MYSQL_PASSWORD": "vK9#pQ2!xL7@mN4$", "REDIS_PASSWORD": ""},
        {"REDIS_PASSWORD"},
    ),
    ("process-only", None, dict(line.split("=", 1) for line in _COMPLETE.splitlines()), set()),
    ("no-source", None, None, set()),  # nothing given, nothing claimed
]


@pytest.fixture(scope="module")
def env_scores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, int, int]]:
    repo = tmp_path_factory.mktemp("env-files")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    expected: set[tuple[str, object, str]] = set()
    for rel, text, mode, tracked, rules in ENV_FILES:
        path = repo / rel
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
        path.chmod(mode)
        if tracked:
            subprocess.run(["git", "-C", str(repo), "add", rel], check=True)
        expected |= {(rel, "", rule) for rule in rules}
    result = scan(ScanOptions(paths=[repo]))
    found = {
        (f.rel_path, "", f.rule_id)
        for f in result.findings
        if f.rule_id in {"DBSBM-ENV-003", "DBSBM-ENV-004"}
    }

    sources, tree = tmp_path_factory.mktemp("env-sources"), tmp_path_factory.mktemp("tree")
    for name, text, environ, missing in ENV_SOURCES:
        env_files = []
        if text is not None:
            env_files.append(sources / f"{name}.env")
            env_files[0].write_text(text)
        result = scan(ScanOptions(paths=[tree], env_files=env_files, process_env=environ))
        found |= {
            (name, f.message.split()[0], f.rule_id)
            for f in result.findings
            if f.rule_id == "DBSBM-ENV-001"
        }
        expected |= {(name, variable, "DBSBM-ENV-001") for variable in missing}
    return _score(found, expected)


@pytest.mark.parametrize("rule_id", FILE_RULES)
def test_environment_rule_precision_and_recall(
    rule_id: str, env_scores: dict[str, tuple[int, int, int]]
) -> None:
    """ENV-001/003/004 flag exactly the labelled fixtures: required variables missing or empty
    in every source, .env files tracked by git or readable by others while holding secrets."""
    _assert_scores(rule_id, env_scores)


def test_safe_files_are_silent() -> None:
    """Files with no expectations (the safe snippets) produce no line findings at all."""
    labelled = {rel for rel, _, _ in _expectations()}
    safe = [
        p
        for p in CORPUS.rglob("*")
        if p.is_file()
        and p.suffix != ".expect"
        and p.relative_to(CORPUS).as_posix() not in labelled
    ]
    assert len(safe) >= 6
    result = scan(ScanOptions(paths=safe))
    assert [f for f in result.findings if f.line > 0] == []


def test_dbsbm_shapes_are_in_the_corpus() -> None:
    """The corpus holds the shapes the issue names, so the scores above cover them."""
    text = {p.name: p.read_text() for p in CORPUS.rglob("*.py")}
    assert '{"x-apisports-key": "' in text["vuln_credentials.py"]
    assert "API_KEYS = {" in text["vuln_credentials.py"]
    assert 'fetch_one("SELECT * FROM users WHERE id = %s", user_id)' in text["safe_sql.py"]
    assert 'f"SELECT * FROM {table}' in text["vuln_sql.py"]
    assert ".format(" in text["vuln_sql.py"]
    assert "logging.basicConfig(level=logging.DEBUG" in text["main.py"]
    # shapes a review found missed or misjudged
    assert "from bot.web import app" in text["web.py"]
    assert 'logging.basicConfig(level=os.getenv("LOG_LEVEL", "DEBUG"))' in text["web.py"]
    assert 'app.run(debug=os.getenv("FLASK_DEBUG") == "1")' in text["safe_web.py"]
    assert '"host=db user=bot password=Sup3rSecr3t dbname=dbsbm"' in text["vuln_credentials.py"]
    assert '"123456789012345678"' in text["safe_credentials.py"]
    assert 'for col in ("bet_id", "amount"):' in text["safe_sql.py"]
    assert '"logging": {"level": "DEBUG"},' in (CORPUS / "config" / "production.json").read_text()


def test_each_class_has_positives_and_hard_negatives() -> None:
    """Every class of finding has labelled positives and a file of hard negatives (the
    guarded, the parameterized, the placeholder) that must stay silent."""
    labelled = {rel for rel, _, _ in _expectations()}
    pairs = [
        ("sql/vuln_sql_flow.py", "sql/safe_sql_flow.py"),  # SQL across functions
        ("credentials/vuln_urls.py", "credentials/safe_urls.py"),  # credentials in URLs
        ("credentials/vuln_assembled.py", "credentials/safe_assembled.py"),  # assembled
        ("exec/vuln_exec_alias.py", "exec/safe_exec_alias.py"),  # eval/exec via alias
        ("env/.env", "env/staging.env"),  # .env secrets per line
        ("debug/settings/production.py", "debug/settings/development.py"),  # DEBUG = True
        ("debug/config_classes.py", "debug/settings/staging.py"),
        ("debug/bot.py", "debug/launcher.py"),  # asyncio debug in an entry point
        ("debug/vuln_log_dicts.py", "debug/safe_log_dicts.py"),  # secret dicts logged
    ]
    for positive, negative in pairs:
        assert positive in labelled, positive
        assert negative not in labelled and (CORPUS / negative).is_file(), negative


def _bandit_issues(test_id: str, path: Path) -> int:
    from bandit.core import config, manager

    mgr = manager.BanditManager(
        config.BanditConfig(), "file", quiet=True, profile={"include": {test_id}, "exclude": set()}
    )
    mgr.files_list = [str(path)]
    mgr.run_tests()
    return len(mgr.get_issue_list())


def test_bandit_b608_is_replaced() -> None:
    """bandit's B608 would flag the parameterized queries of safe_sql.py; our rule does not."""
    ours = scan(ScanOptions(paths=[CORPUS / "sql" / "safe_sql.py"])).findings
    assert _bandit_issues("B608", CORPUS / "sql" / "safe_sql.py") > 0 and ours == []


def test_bandit_b201_is_replaced() -> None:
    """bandit's B201 needs a flask import in the same file, so it misses all of web.py."""
    ours = scan(ScanOptions(paths=[CORPUS / "debug" / "web.py"])).findings
    assert _bandit_issues("B201", CORPUS / "debug" / "web.py") == 0
    assert len([f for f in ours if f.rule_id == "DBSBM-DEBUG-001"]) == 5
