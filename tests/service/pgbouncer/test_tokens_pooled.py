"""Admin token verification's tests, once more with the service behind PgBouncer."""

from tests.service.test_tokens import *  # noqa: F403
