"""MySQL access the way DBSBM does it: one aiomysql pool, ``DictCursor``, ``%s`` parameters.

Reads are cached under the cache manager's ``database`` prefix, as DBSBM's DatabaseManager
does. DBSBM clears every cached read on any write (``clear_prefix("database", "db_query")``);
this one uses the ``pattern`` argument of ``clear_prefix`` to clear only the reads of the table
written: a read's key names its tables (``db_query:,bets,users,:<digest>``). Values are made
JSON-safe before caching because our cache stores JSON, never pickles.
"""

from __future__ import annotations

import hashlib
import logging
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import aiomysql

from examples.demo_bot.faults import Faults
from examples.demo_bot.settings import TEST_SECRET, Settings

log = logging.getLogger("dbsbm.demo.database")
# Tables a statement reads or writes ("UPDATE" only at the start: not ON DUPLICATE KEY UPDATE).
_TABLES = re.compile(r"(?:\b(?:FROM|JOIN|INTO)|^\s*UPDATE)\s+`?(\w+)", re.IGNORECASE)

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS users (
        user_id BIGINT PRIMARY KEY,
        username VARCHAR(64) NOT NULL,
        balance DECIMAL(12, 2) NOT NULL DEFAULT 1000.00,
        created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)""",
    """CREATE TABLE IF NOT EXISTS games (
        game_id BIGINT PRIMARY KEY,
        league_id INT NOT NULL,
        league_name VARCHAR(64) NOT NULL,
        home_team VARCHAR(64) NOT NULL,
        away_team VARCHAR(64) NOT NULL,
        start_time DATETIME NOT NULL,
        status VARCHAR(8) NOT NULL,
        INDEX idx_games_league (league_id))""",
    """CREATE TABLE IF NOT EXISTS bets (
        bet_id BIGINT AUTO_INCREMENT PRIMARY KEY,
        user_id BIGINT NOT NULL,
        guild_id BIGINT NULL,
        game_id BIGINT NOT NULL,
        pick VARCHAR(8) NOT NULL,
        amount DECIMAL(12, 2) NOT NULL,
        odds DECIMAL(6, 2) NOT NULL,
        status VARCHAR(16) NOT NULL DEFAULT 'pending',
        created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
        INDEX idx_bets_user (user_id),
        INDEX idx_bets_game (game_id))""",
    """CREATE TABLE IF NOT EXISTS message_activity (
        guild_id BIGINT NOT NULL,
        user_id BIGINT NOT NULL,
        messages INT NOT NULL DEFAULT 0,
        last_seen TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
        PRIMARY KEY (guild_id, user_id))""",
)


def _json_safe(row: dict[str, Any]) -> dict[str, Any]:
    def convert(value: Any) -> Any:
        if isinstance(value, Decimal):
            return float(value)
        if isinstance(value, datetime | date):
            return value.isoformat()
        return value

    return {key: convert(value) for key, value in row.items()}


class DatabaseManager:
    """DBSBM's DatabaseManager API: ``execute``, ``executemany``, ``fetch_one``, ``fetch_all``."""

    def __init__(self, settings: Settings, cache: Any, faults: Faults) -> None:
        self._settings = settings
        self._cache = cache
        self._faults = faults
        self._pool: aiomysql.Pool | None = None

    async def connect(self) -> None:
        s = self._settings
        self._pool = await aiomysql.create_pool(
            host=s.mysql_host,
            port=s.mysql_port,
            user=s.mysql_user,
            password=s.mysql_password,
            db=s.mysql_db,
            minsize=s.pool_min,
            maxsize=s.pool_max,
            autocommit=True,
            pool_recycle=3600,
            connect_timeout=s.connect_timeout,
            charset="utf8mb4",
        )
        # The SQL comment carries the planted test secret (see settings.TEST_SECRET): the
        # statement reaches span attributes, where redaction must remove it.
        await self.fetch_one(
            f"SELECT 1 AS ok /* connection check, api_key={TEST_SECRET} */",
            cache=False,  # dbsbm-audit: ignore[DBSBM-SQL-001] constant, planted on purpose
        )
        for statement in SCHEMA:
            await self._run(statement, ())
        log.info("database ready", extra={"db.pool.max": s.pool_max})

    async def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            await self._pool.wait_closed()

    async def _run(self, query: str, args: tuple[Any, ...]) -> tuple[int, int]:
        assert self._pool is not None, "connect() first"
        async with self._pool.acquire() as conn, conn.cursor() as cursor:
            await self._maybe_slow(cursor)
            rowcount = await cursor.execute(query, args or None)
            return int(rowcount), int(cursor.lastrowid or 0)

    async def _maybe_slow(self, cursor: aiomysql.Cursor) -> None:
        """A slow database slows reads and writes alike, on the statement's own connection."""
        if self._faults.slow_db and self._faults.roll(self._faults.slow_db_rate):
            await cursor.execute("SELECT SLEEP(%s)", (self._faults.slow_db,))

    async def _select(self, query: str, args: tuple[Any, ...], many: bool) -> Any:
        assert self._pool is not None, "connect() first"
        async with self._pool.acquire() as conn, conn.cursor(aiomysql.DictCursor) as cursor:
            await self._maybe_slow(cursor)
            if self._faults.roll(self._faults.db_error_rate):
                await cursor.execute("SELECT * FROM fault_injection_missing_table")
            await cursor.execute(query, args or None)
            if many:
                return [_json_safe(row) for row in await cursor.fetchall()]
            row = await cursor.fetchone()
            return None if row is None else _json_safe(row)

    @staticmethod
    def _tables(query: str) -> list[str]:
        return sorted({name.lower() for name in _TABLES.findall(query)})

    def _cache_key(self, query: str, args: tuple[Any, ...]) -> str:
        digest = hashlib.sha256(repr((query, args)).encode()).hexdigest()[:32]
        return f"db_query:,{','.join(self._tables(query))},:{digest}"

    async def _invalidate(self, query: str) -> None:
        for table in self._tables(query):
            await self._cache.clear_prefix("database", f",{table},")

    async def _cached(
        self, query: str, args: tuple[Any, ...], many: bool, cache_ttl: int | None, cache: bool
    ) -> Any:
        if not cache:
            return await self._select(query, args, many)
        hit = await self._cache.get("database", self._cache_key(query, args))
        if hit is not None:
            return hit
        return await self.prime(query, *args, many=many, cache_ttl=cache_ttl)

    async def prime(
        self, query: str, *args: Any, many: bool = False, cache_ttl: int | None = None
    ) -> Any:
        """Run a read and cache its result without looking the cache up first (warming)."""
        result = await self._select(query, args, many)
        if result is not None:
            await self._cache.set("database", self._cache_key(query, args), result, ttl=cache_ttl)
        return result

    async def fetch_one(
        self, query: str, *args: Any, cache_ttl: int | None = None, cache: bool = True
    ) -> dict[str, Any] | None:
        row: dict[str, Any] | None = await self._cached(query, args, False, cache_ttl, cache)
        return row

    async def fetch_all(
        self, query: str, *args: Any, cache_ttl: int | None = None, cache: bool = True
    ) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = await self._cached(query, args, True, cache_ttl, cache)
        return rows

    async def execute(self, query: str, *args: Any) -> tuple[int, int]:
        result = await self._run(query, args)
        await self._invalidate(query)
        return result

    async def executemany(self, query: str, args_list: list[tuple[Any, ...]]) -> int:
        assert self._pool is not None, "connect() first"
        async with self._pool.acquire() as conn, conn.cursor() as cursor:
            rowcount = await cursor.executemany(query, args_list)
        await self._invalidate(query)
        return int(rowcount or 0)
