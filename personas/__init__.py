"""The personas service: create_app() builds it from a Config."""

from __future__ import annotations

import requests
from flask import Flask

from config import Config
from personas import db, limits, logs, metrics
from personas.errors import register_error_handlers
from personas.jsonio import OrjsonProvider
from personas.mana_auth import ManaAuth
from personas.tokens import TokenVerifier


def create_app(config: Config | None = None, *, check_schema: bool = True) -> Flask:
    config = config or Config.from_env()
    logs.configure_logging()
    app = Flask(__name__)
    app.json = OrjsonProvider(app)
    app.config["PERSONAS"] = config
    logs.init_app(app)
    metrics.init_app(app)
    limits.init_app(app)

    database = db.init_app(app, config)
    if check_schema:
        database.check_at_boot()

    session = requests.Session()
    mana_auth = ManaAuth(config, session)
    app.extensions["mana_auth"] = mana_auth
    app.extensions["token_verifier"] = TokenVerifier(config, mana_auth)

    # Imported here: blueprint modules load their SQL, which only the running app needs.
    from personas import admin, dashboard, internal, openapi, ops

    app.register_blueprint(ops.bp)
    app.register_blueprint(internal.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(openapi.bp)
    register_error_handlers(app)
    return app
