"""Flask-style configuration classes (labelled corpus)."""

import os


class Config:
    DEBUG = False
    TESTING = False
    SECRET_KEY = os.environ.get("SECRET_KEY")


class DevelopmentConfig(Config):
    DEBUG = True


class TestingConfig(Config):
    TESTING = True
    DEBUG = True


class ProductionConfig(Config):
    DEBUG = True  # expect: DBSBM-DEBUG-001


class ProdSettings:
    debug: bool = True  # expect: DBSBM-DEBUG-001
    log_level = "INFO"
