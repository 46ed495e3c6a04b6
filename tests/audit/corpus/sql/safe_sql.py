"""Parameterized and constant SQL: none of this is injectable."""

BETS_TABLE = "bets"
COLUMNS = "bet_id, user_id, amount"
BASE_QUERY = "SELECT " + COLUMNS + " FROM " + BETS_TABLE


async def get_user(db_manager, user_id):
    return await db_manager.fetch_one("SELECT * FROM users WHERE id = %s", user_id)


async def get_bets(db_manager, user_id, guild_id):
    return await db_manager.fetch_all(
        "SELECT * FROM bets WHERE user_id = %s AND guild_id = %s", user_id, guild_id
    )


async def count(db_manager):
    return await db_manager.fetchval("SELECT COUNT(*) FROM bets")


async def constant_parts(db_manager, user_id):
    query = BASE_QUERY + " WHERE user_id = %s"
    return await db_manager.fetch_all(query, user_id)


async def constant_fstring(db_manager, user_id):
    return await db_manager.fetch_all(f"SELECT {COLUMNS} FROM {BETS_TABLE} WHERE user_id = %s", user_id)


async def built_with_placeholders(db_manager, league, season):
    query = "SELECT * FROM games WHERE 1 = 1"
    args = []
    if league:
        query += " AND league = %s"
        args.append(league)
    if season:
        query += " AND season = %s"
        args.append(season)
    return await db_manager.fetch_all(query, *args)


async def with_cursor(pool, username):
    async with pool.acquire() as conn:
        async with conn.cursor() as cur:
            await cur.execute("UPDATE users SET name = %s WHERE id = %s", (username, 1))
            await cur.executemany("INSERT INTO t (a) VALUES (%s)", [(1,), (2,)])


async def asyncpg_style(conn, value):
    return await conn.fetchrow("SELECT id FROM players WHERE name = $1", value)


async def passthrough(db_manager, query, *args):
    return await db_manager.execute(query, *args)


def sqlite_style(con, ids):
    placeholders = ", ".join("?" for _ in ids)
    con.execute("SELECT * FROM names WHERE id IN (%s)" % placeholders, ids)


def not_sql(executor, command):
    return executor.execute(f"echo {command}")


def format_constant(cur):
    cur.execute("SELECT * FROM {} WHERE id = %s".format(BETS_TABLE), (1,))


def fixed_columns(cur):
    for col in ("bet_id", "amount"):
        cur.execute(f"SELECT {col} FROM bets")
    for table in ["bets", "users"]: cur.execute(f"SELECT COUNT(*) FROM {table}")
