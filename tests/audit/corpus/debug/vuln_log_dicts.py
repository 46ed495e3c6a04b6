"""Dicts holding credentials passed whole to a logger (labelled corpus)."""

import logging
import os

import aiohttp

logger = logging.getLogger(__name__)
API_KEY = os.environ["API_SPORTS_KEY"]
HEADERS = {"x-apisports-key": API_KEY, "Accept": "application/json"}
DB_CONFIG = {"host": "mysql", "user": "dbsbm", "password": os.environ["MYSQL_PASSWORD"]}


async def fixtures(session: aiohttp.ClientSession, league: int):
    logger.debug("GET /fixtures headers=%s", HEADERS)  # expect: DBSBM-DEBUG-003
    async with session.get("https://v3.football.api-sports.io/fixtures", headers=HEADERS) as resp:
        return await resp.json()


def connect():
    logger.info(f"connecting to MySQL with {DB_CONFIG}")  # expect: DBSBM-DEBUG-003
    logging.debug("environment: %s", dict(os.environ))  # expect: DBSBM-DEBUG-003


class OddsClient:
    def __init__(self, token: str):
        self.log = logging.getLogger("odds")
        self.headers = {"Authorization": f"Bearer {token}"}

    def request(self, url: str):
        self.log.debug("request %s headers %r", url, self.headers)  # expect: DBSBM-DEBUG-003


def webhook(url: str, token: str):
    headers = {"Content-Type": "application/json"}
    headers["Authorization"] = f"Bot {token}"
    logger.warning("webhook call", extra={"headers": headers})  # expect: DBSBM-DEBUG-003


def settings_dump():
    settings = dict(redis_url="redis://redis:6379/0", redis_password=os.getenv("REDIS_PASSWORD"))
    logger.info("settings: " + str(settings))  # expect: DBSBM-DEBUG-003


SETTINGS = {"discord": {"token": os.environ["DISCORD_TOKEN"], "prefix": "!"}, "log_level": "INFO"}


def startup():
    logger.info("starting with %s", SETTINGS)  # expect: DBSBM-DEBUG-003
    env = {k: v for k, v in os.environ.items() if k.isupper()}
    logger.debug("env=%s", env)  # expect: DBSBM-DEBUG-003


def structured(log, token):
    auth = {"Authorization": f"Bot {token}"}
    log.info("gateway connect", headers=auth)  # expect: DBSBM-DEBUG-003


API_KEYS = {"football": os.environ["FOOTBALL_KEY"], "nba": os.environ["NBA_KEY"]}


def provider(name):
    logger.debug("using key %s for %s", API_KEYS[name], name)  # expect: DBSBM-DEBUG-003
