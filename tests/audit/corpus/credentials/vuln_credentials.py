"""Hardcoded credentials in the shapes DBSBM and bots like it have (labelled corpus)."""

import os

import aiohttp
import aiomysql

API_KEY = "a8f5f167f44f4964e6c998dee827110c"  # expect: DBSBM-CRED-002
API_KEYS = {
    "football": "8c1d2f7e9a3b4c5d6e7f8a9b0c1d2e3f",  # expect: DBSBM-CRED-002
    "basketball": "1f2e3d4c5b6a79881f2e3d4c5b6a7988",  # expect: DBSBM-CRED-002
    "nba": os.environ["NBA_KEY"],
}
headers = {"x-apisports-key": "abc123def456ghi789"}  # expect: DBSBM-CRED-002
RAPIDAPI_HEADERS = {
    "x-rapidapi-key": "9d8c7b6a5f4e3d2c1b0a9d8c7b6a5f4e",  # expect: DBSBM-CRED-002
    "x-rapidapi-host": "api-nba-v1.p.rapidapi.com",
}
MYSQL_PASSWORD = "Tr0ub4dor&3xyz"  # expect: DBSBM-CRED-001
password = "changeme"  # expect: DBSBM-CRED-001
REDIS_PASSWORD: str = "hunter2"  # expect: DBSBM-CRED-001
WEATHER_API_KEY = os.getenv("WEATHER_API_KEY", "5f4dcc3b5aa765d61d8327deb882cf99")  # expect: DBSBM-CRED-002
DISCORD_TOKEN = "MTA4NzY1NDMyMTA5ODc2NTQzMj.GhIjKl.abcdefghijklmnopqrstuvwxyz1"  # expect: DBSBM-CRED-004
AWS_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"  # expect: DBSBM-CRED-005
SESSION_JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"  # expect: DBSBM-CRED-005
SIGNING_PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA..."  # expect: DBSBM-CRED-005
DATABASE_URL = "mysql://dbsbm:s3cretpw@mysql:3306/dbsbm"  # expect: DBSBM-CRED-003
REDIS_URL = "redis://:r3disPassw0rd@redis:6379/0"  # expect: DBSBM-CRED-003
PG_DSN = "host=db user=bot password=Sup3rSecr3t dbname=dbsbm"  # expect: DBSBM-CRED-003
ODBC_DSN = "Driver={ODBC Driver 18};Server=db;Uid=bot;Pwd=Sup3rSecr3t;"  # expect: DBSBM-CRED-003
DATAGOLF_KEY = "Zk9xQ2pWbTNkR1l4N0FhUTJyTHc5ZEhmS3pYcA"  # expect: DBSBM-CRED-006


class Settings:
    def __init__(self) -> None:
        self.secret = "q8Z!mW2#pL5$"  # expect: DBSBM-CRED-001
        self.sportdevs_api_key = "sd_4e7a9c1b3f5d7e9a"  # expect: DBSBM-CRED-002


async def connect():
    return await aiomysql.create_pool(
        host="mysql",
        user="dbsbm",
        password="bot-password-2024",  # expect: DBSBM-CRED-001
        db="dbsbm",
    )


def login(user, password="admin123"):  # expect: DBSBM-CRED-001
    return user, password


def check(token):
    return token == "letmein-forever"  # expect: DBSBM-CRED-001


async def odds(session: aiohttp.ClientSession):
    async with session.get(
        "https://v3.football.api-sports.io/odds",
        headers={"x-apisports-key": "0123abcd4567ef890123abcd4567ef89"},  # expect: DBSBM-CRED-002
    ) as resp:
        return await resp.json()


def sign(payload):
    return {"payload": payload, "auth": "fO+hND88n6zvhW5cM0NBLFdUReb13mFsBoQqYINV"}  # expect: DBSBM-CRED-006


def pg_connect(psycopg2):
    return psycopg2.connect("host=db port=5432 user=bot password=Sup3rSecr3t")  # expect: DBSBM-CRED-003
