"""What the service and its development stand-ins build on alike: named SQL queries
loaded from .sql files, and the JSON error shape with its Flask handlers.

The service (`personas/`) and each stand-in import this package and nothing of each
other, so a stand-in can be read, run and changed on its own.
"""
