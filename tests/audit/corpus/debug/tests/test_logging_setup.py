"""Test modules set DEBUG on their own loggers; they never run in production."""

import logging


def make_logger():
    logger = logging.getLogger("under-test")
    logger.setLevel(logging.DEBUG)
    return logger
