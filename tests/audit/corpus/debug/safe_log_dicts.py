"""Dicts with credentials that reach a logger only redacted, filtered or by their keys."""

import logging
import os

logger = logging.getLogger(__name__)
HEADERS = {"x-apisports-key": os.environ["API_SPORTS_KEY"], "Accept": "application/json"}
PUBLIC = {"host": "mysql", "port": 3306, "database": "dbsbm"}
MASKED = {"user": "dbsbm", "password": "********"}


def redact(mapping):
    return {k: "***" if "key" in k.lower() else v for k, v in mapping.items()}


def log_request(url):
    logger.debug("GET %s headers=%s", url, redact(HEADERS))
    logger.debug("header names: %s", list(HEADERS))
    logger.debug("accept: %s", HEADERS["Accept"])
    logger.debug("headers: %s", {k: v for k, v in HEADERS.items() if k != "x-apisports-key"})
    logger.info("connecting to %s", PUBLIC)
    logger.info("credentials: %s", MASKED)
    logger.info("env has %d variables", len(os.environ))


def other_function():
    headers = {"Accept": "application/json"}
    logger.debug("headers %s", headers)


NESTED = {"discord": {"prefix": "!", "intents": ["guilds"]}, "log_level": "INFO"}


def startup():
    logger.info("starting with %s", NESTED)
    names = {k: "set" for k in os.environ if k.endswith("_TOKEN")}
    logger.debug("secrets present: %s", names)


def structured(log):
    log.info("gateway connect", headers=list(HEADERS), exc_info=True)


API_KEYS = {"football": os.environ["FOOTBALL_KEY"], "nba": os.environ["NBA_KEY"]}


def providers():
    logger.info("providers: %s", sorted(API_KEYS))
    logger.info("%d keys loaded", len(API_KEYS))
