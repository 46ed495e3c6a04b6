"""SQL built in one function and executed in another (labelled corpus)."""


def build_bets_query(table, user_id):
    return f"SELECT * FROM {table} WHERE user_id = {user_id}"


def leaderboard_sql(guild_id, limit):
    sql = "SELECT user_id, SUM(amount) FROM bets WHERE guild_id = " + str(guild_id)
    sql += " ORDER BY 2 DESC LIMIT %d" % limit
    return sql


def team_filter(name):
    return "SELECT * FROM teams WHERE name = '{}'".format(name), ()


async def bets(db, table, user_id):
    query = build_bets_query(table, user_id)
    return await db.fetch_all(query)  # expect: DBSBM-SQL-001


async def leaderboard(db_manager, guild_id):
    return await db_manager.fetch_all(leaderboard_sql(guild_id, 10))  # expect: DBSBM-SQL-001


async def teams(cur, name):
    sql, params = team_filter(name)
    await cur.execute(sql, params)  # expect: DBSBM-SQL-001


class BetRepository:
    def __init__(self, db_manager):
        self.db = db_manager

    def _status_clause(self, status):
        clause = f"status = '{status}'"
        return "SELECT * FROM bets WHERE " + clause

    async def by_status(self, status):
        return await self.db.fetch_all(self._status_clause(status))  # expect: DBSBM-SQL-001

    async def _run(self, statement, *args):
        return await self.db.execute(statement, *args)

    async def settle(self, bet_id, result):
        await self._run(f"UPDATE bets SET result = '{result}' WHERE id = {bet_id}")  # expect: DBSBM-SQL-001


async def run_query(pool, sql):
    async with pool.acquire() as conn:
        async with conn.cursor() as cur:
            await cur.execute(sql)


async def purge(pool, guild_id):
    statement = "DELETE FROM bets WHERE guild_id = %s" % guild_id
    await run_query(pool, statement)  # expect: DBSBM-SQL-001


class Queries:
    @staticmethod
    def odds_for(league):
        return "SELECT * FROM odds WHERE league = '%s'" % league


async def odds(cur, league):
    await cur.execute(Queries.odds_for(league))  # expect: DBSBM-SQL-001


async def execute_write(pool, statement):
    await run_query(pool, statement)


async def rename(pool, user_id, name):
    await execute_write(pool, f"UPDATE users SET name = '{name}' WHERE id = {user_id}")  # expect: DBSBM-SQL-001


SORTABLE = ("amount", "created_at", "odds")


def sorted_bets(column, logger):
    if column not in SORTABLE:
        logger.warning("unexpected sort column %s", column)
    return f"SELECT * FROM bets ORDER BY {column}"


async def bets_sorted(db, column, logger):
    return await db.fetch_all(sorted_bets(column, logger))  # expect: DBSBM-SQL-001
