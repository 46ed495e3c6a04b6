"""``SELECT 1`` through an aiomysql pool, bare vs. instrumented, against one MariaDB.

DBSBM's pattern: pool, ``async with pool.acquire()``, ``DictCursor``, autocommit, fetchall.
Run: ``python benchmarks/bench_aiomysql.py`` (starts its own server; target <= 1.10x).
"""

from __future__ import annotations

import asyncio
import functools
import shutil
import sys
import tempfile
from pathlib import Path

import aiomysql
from _otel import compare, providers, report

from dbsbm_instrumentation.aiomysql import AiomysqlInstrumentor

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.services import start_mysql  # noqa: E402  # the repo root is on sys.path from the line above

TARGET = 1.10


async def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="bench-mysql-"))
    server = start_mysql(workdir)
    try:
        pool = await aiomysql.create_pool(
            host=server.host,
            port=server.port,
            user=server.user,
            password=server.password,
            db=server.database,
            minsize=1,
            maxsize=1,
            autocommit=True,
        )
        async with pool.acquire() as conn, conn.cursor() as cur:
            await cur.execute(
                "CREATE TABLE games (id INT PRIMARY KEY, home VARCHAR(40), "
                "away VARCHAR(40), odds DECIMAL(5,2))"
            )
            await cur.executemany(
                "INSERT INTO games VALUES (%s, %s, %s, %s)",
                [(i, f"home {i}", f"away {i}", 1.5) for i in range(50)],
            )

        async def fetch(sql: str) -> object:
            async with pool.acquire() as conn, conn.cursor(aiomysql.DictCursor) as cur:
                await cur.execute(sql)
                return await cur.fetchall()

        for label, sql, ratio in (
            ("SELECT 1, every trace sampled", "SELECT 1 AS one", 1.0),
            ("SELECT 1, 10 % of traces sampled", "SELECT 1 AS one", 0.1),
            ("SELECT 50 rows, every trace sampled", "SELECT * FROM games", 1.0),
        ):
            tracer_provider, meter_provider = providers(ratio)
            instrumentor = AiomysqlInstrumentor()
            bare, ours = await compare(
                functools.partial(fetch, sql),
                functools.partial(
                    instrumentor.instrument,
                    tracer_provider=tracer_provider,
                    meter_provider=meter_provider,
                ),
                instrumentor.uninstrument,
                n=500,
                rounds=15,
            )
            report(f"aiomysql {label} (pool + DictCursor)", bare, ours, TARGET)
            tracer_provider.shutdown()
            meter_provider.shutdown()
        pool.close()
        await pool.wait_closed()
    finally:
        server.close()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
