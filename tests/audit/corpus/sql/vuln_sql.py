"""SQL built from strings reaching DB driver calls (labelled corpus)."""

import sqlite3


async def get_bets(db_manager, table, user_id):
    return await db_manager.fetch_all(f"SELECT * FROM {table} WHERE user_id = %s", user_id)  # expect: DBSBM-SQL-001


async def get_user(db_manager, user_id):
    return await db_manager.fetch_one("SELECT * FROM users WHERE id = %s" % user_id)  # expect: DBSBM-SQL-001


async def find_team(db_manager, name):
    query = "SELECT * FROM teams WHERE name = '{}'".format(name)
    return await db_manager.fetch_one(query)  # expect: DBSBM-SQL-001


async def delete_bet(db_manager, bet_id):
    sql = "DELETE FROM bets WHERE bet_id = " + str(bet_id)
    return await db_manager.execute(sql)  # expect: DBSBM-SQL-001


async def search(db_manager, league, season):
    query = "SELECT * FROM games WHERE 1 = 1"
    query += f" AND league = '{league}'"
    query += " AND season = %s"
    return await db_manager.fetch_all(query, season)  # expect: DBSBM-SQL-001


async def count(db_manager, guild_id):
    return await db_manager.fetchval(f"SELECT COUNT(*) FROM bets WHERE guild_id = {guild_id}")  # expect: DBSBM-SQL-001


async def with_cursor(pool, username):
    async with pool.acquire() as conn:
        async with conn.cursor() as cur:
            await cur.execute(  # expect: DBSBM-SQL-001
                "UPDATE users SET name = '%s' WHERE id = 1" % (username,)
            )


async def asyncpg_style(conn, column, value):
    stmt = "SELECT id FROM players WHERE {} = $1".format(column)
    return await conn.fetchrow(stmt, value)  # expect: DBSBM-SQL-001


def sqlite_style(path, rows):
    con = sqlite3.connect(path)
    for name in rows:
        con.execute("INSERT INTO names VALUES ('" + name + "')")  # expect: DBSBM-SQL-001
    con.executemany(query=f"INSERT INTO {rows[0]} VALUES (?)", seq_of_parameters=[])  # expect: DBSBM-SQL-001


def pymysql_style(connection, order):
    with connection.cursor() as cursor:
        sql = f"SELECT * FROM bets ORDER BY {order}"
        if order == "amount":
            sql = "SELECT * FROM bets ORDER BY amount"
        cursor.execute(sql)  # expect: DBSBM-SQL-001


def chosen_columns(cur, sort_column):
    for col in ("bet_id", sort_column):
        cur.execute(f"SELECT {col} FROM bets")  # expect: DBSBM-SQL-001
