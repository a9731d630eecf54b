"""The admin routes' tests, once more with the service behind PgBouncer."""

from tests.service.test_admin import *  # noqa: F403
