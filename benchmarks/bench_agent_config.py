"""Agent config: ``dbsbm-agent --check-config`` on the largest file it accepts and on hostile ones.

Run: ``python benchmarks/bench_agent_config.py [--runs 5]``. Each input is written to a
temporary directory, then:

1. CLI: ``dbsbm-agent --config FILE --check-config`` as a process, wall time (median of
   ``--runs``), exit code and the first stderr line; beside it, the floor every process
   pays, ``python -c pass``. Target: every hostile input ends with exit 2 within 1 s.
2. In process: ``load_config`` on the same file, beside PyYAML's ``yaml.safe_load``
   (no limits, no validation) where that finishes at all.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import yaml

from dbsbm_agent.config import ConfigError, load_config

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.agent.configs import largest_config  # noqa: E402  # needs the repo root, put on sys.path above

TARGET_MS = 1000.0
CLI_TIMEOUT_S = 10.0


def alias_bomb() -> str:
    """Billion laughs: nine levels of nine aliases, 10^9 strings once expanded."""
    levels = "abcdefghi"
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for previous, current in zip(levels, levels[1:], strict=False):
        lines.append(f"{current}: &{current} [" + ", ".join([f"*{previous}"] * 9) + "]")
    return "\n".join([*lines, "probes:", "  host: {path: *i}"]) + "\n"


def many_probes() -> str:
    """About 10 MB: 212,000 probes."""
    return "probes:\n" + "".join(
        f"  p{i:06d}: {{kind: http, url: 'http://127.0.0.1:{1 + i % 60000}/health'}}\n"
        for i in range(212_000)
    )


INPUTS: dict[str, Callable[[Path], object]] = {
    "largest accepted (1,000 http probes)": lambda p: p.write_text(largest_config()),
    "nesting: 100,000 levels": lambda p: p.write_text(
        "probes: {host: {path: " + "[" * 100_000 + "]" * 100_000 + "}}\n"
    ),
    "alias bomb (billion laughs)": lambda p: p.write_text(alias_bomb()),
    "recursive alias": lambda p: p.write_text("probes: &p\n  host: {path: *p}\n"),
    "10 MB, 212,000 probes": lambda p: p.write_text(many_probes()),
    "FIFO as the config": lambda p: os.mkfifo(p),
    "interval: 1.0e-300": lambda p: p.write_text("probes:\n  redis: {interval: 1.0e-300}\n"),
    "5,000-digit integer": lambda p: p.write_text(
        "probes:\n  redis: {interval: " + "9" * 5000 + "}\n"
    ),
}


def median_ms(run: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def cli(path: Path) -> subprocess.CompletedProcess[str]:
    agent = shutil.which("dbsbm-agent") or sys.exit("dbsbm-agent is not installed")
    return subprocess.run(
        [agent, "--config", str(path), "--check-config"],
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith(("MYSQL_", "REDIS_"))},
    )


def in_process(path: Path) -> None:
    try:
        load_config(path, {})
    except ConfigError:
        pass


def safe_load(path: Path, runs: int) -> str:
    """PyYAML's plain loader on the same file, or why it gives no figure."""
    if not path.is_file():
        return "not a file"
    if path.stat().st_size > 1_000_000:
        return "not run (10 MB)"
    try:
        return f"{median_ms(partial(yaml.safe_load, path.read_text()), runs):9.1f} ms"
    except RecursionError:
        return "RecursionError"
    except (yaml.YAMLError, ValueError) as exc:
        return f"{type(exc).__name__}: {str(exc).splitlines()[0][:40]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    floor = median_ms(partial(subprocess.run, [sys.executable, "-c", "pass"]), args.runs)
    print(f"Process floor, python -c pass: {floor:.1f} ms (median of {args.runs})\n")
    print(f"{'input':<38} {'CLI':>9} {'ratio':>6} {'exit':>4} {'in-process':>11}  safe_load")
    workdir = Path(tempfile.mkdtemp(prefix="dbsbm-bench-agent-config-"))
    over = []
    first_lines = {}
    try:
        for index, (label, make) in enumerate(INPUTS.items()):
            path = workdir / f"input-{index}.yaml"
            make(path)
            result = cli(path)
            wall = median_ms(partial(cli, path), args.runs)
            loaded = median_ms(partial(in_process, path), args.runs)
            hostile = index > 0
            if wall > TARGET_MS or (hostile and result.returncode != 2):
                over.append(label)
            first_lines[label] = (result.stderr or result.stdout).splitlines()[0]
            print(
                f"{label:<38} {wall:6.1f} ms {wall / floor:5.1f}x {result.returncode:>4} "
                f"{loaded:8.1f} ms  {safe_load(path, args.runs)}"
            )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print("\nWhat each printed:")
    for label, line in first_lines.items():
        print(f"  {label}: {line.replace(str(workdir) + '/', '')[:150]}")
    verdict = f"OVER: {', '.join(over)}" if over else "OK"
    print(
        f"\nTarget: every input answered within {TARGET_MS:.0f} ms, hostile ones with exit 2: "
        f"{verdict}"
    )


if __name__ == "__main__":
    main()
