"""What the programs of this repository build on alike: settings read from the
environment, named SQL queries loaded from .sql files, and the JSON error shape with its
Flask handlers.

The service (`personas/`), the runner (`persona_runner/`) and each stand-in import this
package and nothing of each other, so each can be read, run and changed on its own.
"""
