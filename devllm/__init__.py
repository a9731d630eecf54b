"""devllm: a local stand-in for the subset of the Anthropic Messages API and of the OpenAI
Chat Completions API the runner's drivers use, for development and tests only.

It answers POST /v1/messages and POST /v1/chat/completions deterministically, the same
persona on both faces: a short day of 3 to 8 tool calls with arguments valid against each
tool's schema, then a closing sentence; and, when asked for the ratings (`submit_ratings`
forced, or offered and named in the last user turn), a rating per module used that drops
when that module's calls failed or were slow. /dev/faults makes the next calls answer 429,
500 or 529, stall, or end with another stop reason, or answer the ratings in words without
the call, or (Chat Completions) carry arguments that are not JSON. The Messages face bills
usage as the API bills prompt caching (`devllm.cache`), on a clock `/dev/clock` moves on.
Its state (the faults, the caches, the clock) lives in memory, so it runs as one gunicorn
worker; it refuses to start with APP_ENV=production.
"""

from __future__ import annotations

import logging

from flask import Flask

from devllm import chat, dev, messages
from devllm.cache import Clock, PromptCache
from devllm.chat_errors import chat_error_response
from devllm.config import STAND_IN, DevLlmConfig
from devllm.errors import register_error_handlers, with_request_id
from devllm.faults import Faults, raise_injected
from devllm.request_log import RequestLog

log = logging.getLogger("devllm")


def create_app(config: DevLlmConfig | None = None) -> Flask:
    config = config or DevLlmConfig.from_env()
    STAND_IN.start(log, config.app_env)

    app = Flask(__name__)
    app.config["DEVLLM"] = config
    app.config["MAX_CONTENT_LENGTH"] = 16 * 1024 * 1024
    faults = Faults()
    app.extensions["devllm.faults"] = faults
    clock = Clock()
    app.extensions["devllm.clock"] = clock
    app.extensions["devllm.cache"] = PromptCache(clock)
    app.extensions["devllm.requests"] = RequestLog()
    app.before_request(lambda: raise_injected(faults))
    app.after_request(with_request_id)
    app.register_blueprint(messages.bp)
    app.register_blueprint(chat.bp)
    app.register_blueprint(dev.bp)
    register_error_handlers(app, {"/v1/chat/": chat_error_response})
    return app
