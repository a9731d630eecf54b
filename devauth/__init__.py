"""devauth: a local stand-in for mana-auth, for development and tests only.

It implements the rows of the mana-auth contract over real HTTP, with real Ed25519
keys and users kept in its own PostgreSQL schema, plus /dev extras (tokens on demand,
injected faults, key rotation). It refuses to start with APP_ENV=production.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from flask import Flask
from flask.json.provider import DefaultJSONProvider
from werkzeug.routing import BaseConverter

from devauth import db, faults, tokens
from devauth.config import STAND_IN, DevAuthConfig
from devauth.errors import register_error_handlers

log = logging.getLogger("devauth")


class JSONProvider(DefaultJSONProvider):
    """Timestamps as ISO-8601 UTC (`...Z`), as mana-auth writes them."""

    @staticmethod
    def default(o: Any) -> Any:
        if isinstance(o, datetime):
            return o.isoformat().replace("+00:00", "Z")
        return DefaultJSONProvider.default(o)


class UserIdConverter(BaseConverter):
    """A path id PostgreSQL can store; anything else names no user, so it is a plain 404."""

    regex = "[^/\\x00]{1,200}"


def create_app(config: DevAuthConfig | None = None) -> Flask:
    config = config or DevAuthConfig.from_env()
    STAND_IN.start(log, config.app_env)

    app = Flask(__name__)
    app.json = JSONProvider(app)
    app.config["DEVAUTH"] = config
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024
    app.url_map.converters["user_id"] = UserIdConverter
    db.init_app(app, config.database_url)
    STAND_IN.create_schema(config.database_url, db.SCHEMA_FILE, db.CONNECT_KWARGS, after=tokens.ensure_key)

    from devauth import accounts, admin, dev, internal, organizations

    faults.init_app(app)
    for blueprint in (accounts.bp, organizations.bp, admin.bp, internal.bp, dev.bp):
        app.register_blueprint(blueprint)
    register_error_handlers(app)
    log.info("devauth ready: issuer %s, audience %s", config.issuer, config.jwt_audience)
    return app
