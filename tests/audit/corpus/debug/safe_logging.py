"""Log levels from the environment and log lines that say a secret is set, not what it is."""

import logging
import os

DBSBM_ENV = os.getenv("DBSBM_ENV", "production")
LEVEL = logging.DEBUG if DBSBM_ENV == "development" else logging.INFO
logging.basicConfig(level=LEVEL)
logger = logging.getLogger(__name__)
if DBSBM_ENV == "development":
    logging.getLogger("discord").setLevel(logging.DEBUG)
logging.getLogger("aiohttp").setLevel(logging.WARNING)
logging.getLogger("bot").setLevel(os.getenv("LOG_LEVEL", "INFO"))

DISCORD_TOKEN = os.environ["DISCORD_TOKEN"]
API_KEY = os.environ["API_SPORTS_KEY"]


def start(user, tokens):
    logger.info("Discord token set: %s", bool(DISCORD_TOKEN))
    logger.info("token length %d", len(DISCORD_TOKEN))
    logger.debug("API key %s...", API_KEY[:4])
    logger.info("user %s placed a bet", user)
    logger.info(f"loaded {len(tokens)} tokens")
    logger.info("TOKEN_URL is configured")
    print(DISCORD_TOKEN is not None)
