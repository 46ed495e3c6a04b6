"""Secrets assembled at run time from literals: split, joined, concatenated, formatted,
encoded (labelled corpus)."""

import base64
import os

import discord

_TOKEN_PARTS = ("MTA4NzY1NDMyMTA5ODc2NTQzMj", "GhIjKl", "abcdefghijklmnopqrstuvwxyz1")
DISCORD_TOKEN = ".".join(_TOKEN_PARTS)  # expect: DBSBM-CRED-004
_HEAD = "MTA4NzY1NDMyMTA5ODc2NTQzMj"
_TAIL = "GhIjKl.abcdefghijklmnopqrstuvwxyz1"
BACKUP_TOKEN = f"{_HEAD}.{_TAIL}"  # expect: DBSBM-CRED-004
API_SPORTS_KEY = "8c1d2f7e" + "9a3b4c5d" + "6e7f8a9b0c1d2e3f"  # expect: DBSBM-CRED-002
MYSQL_PASSWORD = "{}-{}!".format("Tr0ub4dor", "2024")  # expect: DBSBM-CRED-001
REDIS_PASSWORD = "%s%s" % ("r3dis", "Passw0rd")  # expect: DBSBM-CRED-001
ADMIN_SECRET = base64.b64decode("U3VwM3JTZWNyM3RQYXNz").decode()  # expect: DBSBM-CRED-001
AWS_KEY_ID = "AKIA" + "IOSFODNN7QWERTYU"  # expect: DBSBM-CRED-005
ALERT_WEBHOOK = "https://discord.com/api/webhooks/" + "1234567890123456789/" + "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_aBcDeFgHiJkLmNoPqRsTuVwXyZ01"  # expect: DBSBM-CRED-003
DB_URL = "mysql://dbsbm:" + "s3cretpw" + "@mysql:3306/dbsbm"  # expect: DBSBM-CRED-003


def payments():
    parts = ["sk_live_", "4eC39HqLyjWDarjtT1zdp7dc"]
    stripe_key = "".join(parts)  # expect: DBSBM-CRED-005
    return stripe_key


def start():
    client = discord.Client(intents=discord.Intents.default())
    client.run("MTA4NzY1NDMyMTA5ODc2NTQzMj" + "." + "GhIjKl.abcdefghijklmnopqrstuvwxyz1")  # expect: DBSBM-CRED-004


def api_headers():
    return {"x-apisports-key": "".join(["0123abcd", "4567ef89", "0123abcd4567ef89"])}  # expect: DBSBM-CRED-002


FALLBACK_TOKEN = os.getenv("DISCORD_TOKEN") or "MTA4NzY1NDMyMTA5ODc2NTQzMj" + ".GhIjKl.abcdefghijklmnopqrstuvwxyz1"  # expect: DBSBM-CRED-004
ODDS_KEY = os.getenv("ODDS_API_KEY", "3f2b8a1e9c4d" + "4e5f8a7b1c2d3e4f5a6b")  # expect: DBSBM-CRED-002


_KEY_PARTS = ["NzY1NDMyMTA5ODc2NTQzMjEw", "Xa9bQk", "Zz1yYxWvUtSrQpOnMlKjIhGfEdC"]


def bot_token():
    return ".".join(_KEY_PARTS)  # expect: DBSBM-CRED-004
