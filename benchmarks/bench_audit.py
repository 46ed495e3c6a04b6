"""dbsbm-audit against `bandit -r` on the same generated 50k-line bot-like tree.

Both run as one single-threaded process each (bandit has no parallel mode; we run five of
bandit's tests in-process, only on files where one could report or confirm something, plus our
own rules, detect-secrets' plugins and the analyses that follow values: SQL across functions,
constant folding for assembled secrets and eval/exec aliases, dicts handed to loggers), timed
end to end including interpreter start-up. One module in ten carries planted findings, a
third read a secret from the environment, every cog builds a header dict holding an API key
and logs. Prints seconds for each and the ratio. Not a test.

    python benchmarks/bench_audit.py [--lines 50000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

COG = '''"""{name} cog: slash commands over the betting tables."""

import logging
import os

import aiohttp
from discord import app_commands
from discord.ext import commands

logger = logging.getLogger(__name__)
API_KEY = os.environ["API_SPORTS_KEY"]
HEADERS = {{"x-apisports-key": API_KEY, "Accept": "application/json"}}
BETS_TABLE = "bets"


class {cls}(commands.Cog):
    def __init__(self, bot, db_manager):
        self.bot = bot
        self.db = db_manager
'''

METHOD = """
    async def get_{i}(self, interaction, user_id: int, league: str):
        row = await self.db.fetch_one(
            "SELECT * FROM bets WHERE user_id = %s AND league = %s", user_id, league
        )
        query = "SELECT bet_id, amount FROM " + BETS_TABLE + " WHERE guild_id = %s"
        args = [interaction.guild_id]
        if league:
            query += " AND league = %s"
            args.append(league)
        rows = await self.db.fetch_all(query, *args)
        async with aiohttp.ClientSession(headers=HEADERS) as session:
            async with session.get("https://v3.football.api-sports.io/fixtures",
                                   params={{"league": league}}) as resp:
                data = await resp.json()
        logger.info("user %s fetched %d rows", user_id, len(rows))
        logger.debug("fixtures for %s: %d", league, len(data))
        total = sum(r["amount"] for r in rows if r["amount"] > 0)
        if total > 1000 and row is not None:
            await self.db.execute("UPDATE users SET vip = 1 WHERE id = %s", user_id)
        return {{"row": row, "rows": rows, "data": data, "total": total}}
"""

VULN_METHOD = """
    async def bad_{i}(self, table, user_id):
        password = "hunter2-{i}"
        logger.debug(f"token={{os.environ['DISCORD_TOKEN']}}")
        return await self.db.fetch_all(f"SELECT * FROM {{table}} WHERE id = {{user_id}}")
"""


def generate(root: Path, target_lines: int) -> int:
    lines = 0
    n = 0
    while lines < target_lines:
        package = root / f"cogs{n // 20}"
        package.mkdir(exist_ok=True)
        body = COG.format(name=f"module{n}", cls=f"Module{n}Cog")
        if n % 3 == 0:  # a third of the modules read a secret: bandit must look at those
            body = body.replace(
                "\n\n\nclass", '\nDISCORD_TOKEN = os.environ["DISCORD_TOKEN"]\n\n\nclass'
            )

        for i in range(25):
            body += METHOD.format(i=i)
        if n % 10 == 0:
            body += VULN_METHOD.format(i=n)
        (package / f"module{n}.py").write_text(body)
        lines += body.count("\n")
        n += 1
    (root / "config.yaml").write_text("mysql:\n  host: mysql\n  password: ${MYSQL_PASSWORD}\n")
    return lines


def timed(cmds: list[list[str]], repeat: int) -> list[float]:
    """Best wall time of each command. The commands take turns within every repeat, so load
    from other processes on a shared machine falls on both sides alike."""
    best = [float("inf")] * len(cmds)
    for _ in range(repeat):
        for i, cmd in enumerate(cmds):
            start = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            elapsed = time.perf_counter() - start
            if proc.returncode not in (0, 1):
                raise SystemExit(
                    f"{cmd[0]} failed ({proc.returncode}): {proc.stderr.strip()[-300:]}"
                )
            best[i] = min(best[i], elapsed)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    for tool in ("dbsbm-audit", "bandit"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found on PATH (pip install -e '.[test]')")
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as tmp:
        root = Path(tmp)
        lines = generate(root, args.lines)
        files = len(list(root.rglob("*.py")))
        check = subprocess.run(
            ["dbsbm-audit", str(root), "--format", "json"],
            capture_output=True,
            text=True,
            check=False,
        )
        summary = json.loads(check.stdout)["summary"]
        if summary["skipped"]:
            raise SystemExit(f"generated tree does not parse: {summary}")
        ours, bandit = timed(
            [
                ["dbsbm-audit", str(root), "--format", "json"],
                ["bandit", "-r", "-q", "-f", "json", str(root)],
            ],
            args.repeat,
        )
    print(
        f"tree: {lines} lines in {files} Python files (best of {args.repeat}); dbsbm-audit "
        f"found {summary['findings']} ({summary['high']} high, {summary['medium']} medium)"
    )
    print(f"dbsbm-audit : {ours:6.2f} s  (bandit subset + own rules + detect-secrets plugins)")
    print(f"bandit -r   : {bandit:6.2f} s  (all bandit tests)")
    print(f"ratio dbsbm-audit / bandit = {ours / bandit:.2f}")


if __name__ == "__main__":
    main()
