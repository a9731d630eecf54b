"""The personas service: create_app() builds it from a Config."""

from __future__ import annotations

from flask import Flask

from config import Config
from personas import db, limits, logs, mana_auth, metrics, tokens
from personas.errors import register_error_handlers
from personas.jsonio import OrjsonProvider
from personas.validation import PersonaIdConverter


def create_app(config: Config | None = None, *, check_schema: bool = True) -> Flask:
    config = config or Config.from_env()
    logs.configure_logging()
    app = Flask(__name__)
    app.json = OrjsonProvider(app)
    app.url_map.converters["persona"] = PersonaIdConverter
    app.config["PERSONAS"] = config
    logs.init_app(app)
    metrics.init_app(app)
    limits.init_app(app)

    database = db.init_app(app, config)
    if check_schema:
        database.check_at_boot()

    tokens.init_app(app, config, mana_auth.init_app(app, config))

    # Imported here: blueprint modules load their SQL, which only the running app needs.
    from personas import admin, dashboard, internal, openapi, ops

    app.register_blueprint(ops.bp)
    app.register_blueprint(internal.bp)
    app.register_blueprint(admin.bp)
    app.after_request(admin.private_answer)
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(openapi.bp)
    register_error_handlers(app)
    return app
