"""bandit's AST checks, run in-process.

Only the tests we map to rule IDs run: B102 exec, B307 eval and B105/B106/B107 hardcoded
passwords, and only on the files where one of them could confirm or report something (an
eval/exec call, a literal held by a password-named place): bandit parses and visits every file
it is given again, which is its whole cost. Left out on purpose: B608 (SQL) flags
parameterized queries too, ``rules/sql.py`` replaces it; B201 (Flask debug) fires only when
the file imports flask, ``rules/debug.py`` replaces it.
"""

from __future__ import annotations

import ast
import logging
import warnings
from collections import defaultdict

from bandit.core import config as b_config
from bandit.core import manager as b_manager

BANDIT_TESTS = frozenset({"B102", "B105", "B106", "B107", "B307"})


def calls_eval_or_exec(nodes: list[ast.AST]) -> bool:
    """Whether B102/B307 could fire: a call of something named eval or exec."""
    for node in nodes:
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name in {"eval", "exec"}:
                return True
    return False


def run_bandit(files: list[str]) -> dict[str, list[tuple[str, int]]]:
    """(test id, line) per file. bandit honours ``# nosec`` itself."""
    if not files:
        return {}
    # bandit logs per-run INFO/WARNING chatter through the root handler; the CLI prints
    # its own report, so keep bandit's own loggers to errors.
    logging.getLogger("bandit").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        # bandit 1.9 passes stevedore an argument stevedore now deprecates; not ours to fix.
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="stevedore")
        manager = b_manager.BanditManager(
            b_config.BanditConfig(),
            "file",
            quiet=True,
            profile={"include": set(BANDIT_TESTS), "exclude": set()},
        )
    manager.files_list = sorted(files)
    manager.run_tests()
    hits: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for issue in manager.get_issue_list():
        hits[issue.fname].append((issue.test_id, issue.lineno))
    return hits
