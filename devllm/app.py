"""gunicorn's entry point: `gunicorn devllm.app:app` (one worker: the faults live in it)."""

from devllm import create_app

app = create_app()
