"""Queries built in helpers that stay parameterized or constant: none is injectable."""

BETS = "bets"
COLUMNS = ("bet_id", "amount")


def bets_query():
    return f"SELECT {', '.join(COLUMNS)} FROM {BETS} WHERE user_id = %s"


def by_user(user_id):
    return "SELECT * FROM bets WHERE user_id = %s", (user_id,)


def in_clause(ids):
    placeholders = ", ".join(["%s"] * len(ids))
    return f"SELECT * FROM bets WHERE bet_id IN ({placeholders})", tuple(ids)


def order_by(column):
    allowed = {"amount": "amount", "date": "created_at"}
    return "SELECT * FROM bets ORDER BY " + allowed.get(column, "created_at")


def describe(table):
    return f"table {table} has no rows"


async def fetch(db, user_id):
    rows = await db.fetch_all(bets_query(), user_id)
    sql, params = by_user(user_id)
    await db.execute(sql, params)
    query, args = in_clause([1, 2])
    await db.fetch_all(query, *args)
    await db.fetch_all(order_by("amount"))
    return rows


async def run_query(pool, sql, args=()):
    async with pool.acquire() as conn:
        async with conn.cursor() as cur:
            await cur.execute(sql, args)


async def purge(pool, guild_id):
    await run_query(pool, "DELETE FROM bets WHERE guild_id = %s", (guild_id,))
    await run_query(pool, f"DELETE FROM {BETS} WHERE settled = 1")


def log_line(logger, table):
    logger.execute(describe(table))


class Queries:
    @staticmethod
    def odds_for():
        return "SELECT * FROM odds WHERE league = %s"


async def odds(cur, league):
    await cur.execute(Queries.odds_for(), (league,))


async def execute_write(pool, statement, args=()):
    await run_query(pool, statement, args)


async def rename(pool, user_id, name):
    await execute_write(pool, "UPDATE users SET name = %s WHERE id = %s", (name, user_id))


SORTABLE = ("amount", "created_at", "odds")


def sorted_bets(column):
    if column not in SORTABLE:
        raise ValueError(f"cannot sort by {column}")
    return f"SELECT * FROM bets ORDER BY {column}"


async def bets_sorted(db, column):
    return await db.fetch_all(sorted_bets(column))


async def page(db, limit, offset):
    await db.fetch_all(f"SELECT * FROM bets LIMIT {int(limit)} OFFSET {int(offset)}")
    await db.fetch_all("SELECT * FROM bets WHERE user_id = %d" % offset)
