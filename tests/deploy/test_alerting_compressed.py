"""The time-compressed rules live tests run differ from the shipped rules only in durations.

Durations are parsed here independently of the mixin, so a compression that changed
anything but a duration, or divided one by the wrong factor, fails.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from dbsbm_mixin import prometheus
from tests.services import REPO, require_binary

FACTORS = (60, 120)
_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_RANGE = re.compile(r"(?:(?<=\[)(?=[0-9a-z]+\])|(?<=\boffset ))(\d[0-9a-z]*)")  # x[5m], x offset 5m


def seconds(duration: str) -> float:
    parts = re.findall(r"(\d+)(ms|[smhdwy])", duration)
    assert "".join(n + u for n, u in parts) == duration, duration
    return sum(int(n) * _SECONDS[u] for n, u in parts)


def scaled(shipped: str, compressed: str, factor: int) -> bool:
    return seconds(compressed) * factor == pytest.approx(seconds(shipped))


def documents(files: dict[Path, str]) -> dict[str, Any]:
    return {path.name: yaml.safe_load(text) for path, text in files.items()}


@pytest.mark.parametrize("factor", FACTORS)
def test_compressed_rules_differ_only_in_durations(factor: int) -> None:
    """Same groups, rules, names, labels and annotations; every duration divided by factor."""
    shipped = documents(prometheus.rule_files())
    compressed = documents(prometheus.rule_files(time_factor=factor))
    assert shipped.keys() == compressed.keys()
    windows = 0
    for name, document in shipped.items():
        groups = compressed[name]["groups"]
        assert [g["name"] for g in groups] == [g["name"] for g in document["groups"]]
        for ours, theirs in zip(document["groups"], groups, strict=True):
            assert scaled(ours["interval"], theirs["interval"], factor)
            assert len(ours["rules"]) == len(theirs["rules"])
            for rule, fast in zip(ours["rules"], theirs["rules"], strict=True):
                assert rule.keys() == fast.keys()
                for key in rule.keys() - {"expr", "for"}:
                    assert rule[key] == fast[key], (name, key)
                if "for" in rule:
                    assert scaled(rule["for"], fast["for"], factor)
                # Outside its range windows and offsets the expression is the same text.
                assert _RANGE.split(rule["expr"])[::2] == _RANGE.split(fast["expr"])[::2]
                pairs = zip(_RANGE.findall(rule["expr"]), _RANGE.findall(fast["expr"]), strict=True)
                for slow, quick in pairs:
                    assert scaled(slow, quick, factor), (rule["expr"], fast["expr"])
                    windows += 1
    assert windows > 20, "the comparison saw the range windows"


def test_compressed_rules_pass_promtool_check(tmp_path: Path) -> None:
    """`generate.py --time-factor` writes rule files promtool accepts."""
    result = subprocess.run(
        [
            sys.executable,
            "deploy/mixin/generate.py",
            "--time-factor",
            "60",
            "--output-dir",
            tmp_path,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    files = sorted(tmp_path.glob("*.yml"))
    assert [f.name for f in files] == sorted(p.name for p in prometheus.rule_files())
    promtool = require_binary("promtool", "prometheus")
    check = subprocess.run(
        [promtool, "check", "rules", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--time-factor", "7", "--output-dir", "x"], "--time-factor 7: 5m is not a whole"),
        (["--time-factor", "0", "--output-dir", "x"], "at least 1, got '0'"),
        (["--time-factor", "60"], "--time-factor and --output-dir go together"),
    ],
)
def test_bad_time_factor_is_one_line(args: list[str], message: str, tmp_path: Path) -> None:
    """A factor that does not divide every duration, or a missing half: exit 2, one line."""
    result = subprocess.run(
        [sys.executable, str(REPO / "deploy/mixin/generate.py"), *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert message in line
    assert not (tmp_path / "x").exists()
