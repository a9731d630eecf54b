"""The internal routes' tests, once more with the service behind PgBouncer."""

from tests.service.test_internal import *  # noqa: F403
