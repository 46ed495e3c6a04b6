"""DBSBM's main.py shape: logging set to DEBUG for everyone, secrets in log lines."""

import logging
import os

from flask import Flask

logging.basicConfig(level=logging.DEBUG, format="%(asctime)s %(message)s")  # expect: DBSBM-DEBUG-002
logger = logging.getLogger(__name__)
logging.getLogger("discord").setLevel(logging.DEBUG)  # expect: DBSBM-DEBUG-002

DISCORD_TOKEN = os.environ["DISCORD_TOKEN"]
MYSQL_PASSWORD = os.getenv("MYSQL_PASSWORD")
app = Flask(__name__)


class Bot:
    def __init__(self):
        self.logger = logging.getLogger("bot")
        self.api_key = os.environ["API_SPORTS_KEY"]

    def start(self):
        logger.info(f"Starting bot with token={DISCORD_TOKEN}")  # expect: DBSBM-DEBUG-003
        logging.debug("MySQL password: %s", MYSQL_PASSWORD)  # expect: DBSBM-DEBUG-003
        self.logger.debug("Using API key " + self.api_key)  # expect: DBSBM-DEBUG-003
        logger.warning("env token {}".format(os.environ["DISCORD_TOKEN"]))  # expect: DBSBM-DEBUG-003
        logger.error("redis password %s", os.getenv("REDIS_PASSWORD"))  # expect: DBSBM-DEBUG-003


if __name__ == "__main__":
    logging.basicConfig(level="DEBUG")  # expect: DBSBM-DEBUG-002
    app.run(host="0.0.0.0", debug=True)  # expect: DBSBM-DEBUG-001
