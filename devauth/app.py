"""gunicorn's entry point: `gunicorn devauth.app:app` builds the stand-in from the environment."""

from devauth import create_app

app = create_app()
