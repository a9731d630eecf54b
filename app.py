"""gunicorn's entry point: `gunicorn app:app` builds the service from the environment."""

from personas import create_app

app = create_app()
