"""Settings read from the environment. Each program's config module reads its variables
once, through an `Env`, so a bad value is refused the same way everywhere: at start, with
a message that names the variable and says what it must be."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


class ConfigError(ValueError):
    """The environment cannot run the program; the message says which variable to fix."""


def config_or_exit(program: str, load: Callable[[], T]) -> T:
    """What `load` reads from the environment; a ConfigError ends the program with status 2
    and `program: <what to fix>` on stderr, as every entry point here answers a bad setting."""
    try:
        return load()
    except ConfigError as exc:
        print(f"{program}: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


@dataclass(frozen=True)
class Env:
    """Typed reads of one environment; an unset or blank variable takes its default."""

    values: Mapping[str, str]
    error: type[Exception] = ConfigError

    def _raw(self, name: str) -> str:
        return self.values.get(name, "").strip()

    @property
    def app_env(self) -> str:
        return self._raw("APP_ENV") or "development"

    def text(self, name: str, default: str = "") -> str:
        return self._raw(name) or default

    def secret(self, name: str) -> str:
        """Taken exactly as set: a key is never trimmed."""
        return self.values.get(name, "")

    def required(self, name: str, example: str) -> str:
        value = self._raw(name)
        if not value:
            raise self.error(f"{name} is not set (e.g. {example})")
        return value

    def items(self, name: str) -> tuple[str, ...]:
        """`a, b` -> ('a', 'b'); blanks between commas are dropped."""
        return tuple(item.strip() for item in self.values.get(name, "").split(",") if item.strip())

    def whole(self, name: str, default: int, minimum: int | None = None, maximum: int | None = None) -> int:
        return self._in_range(name, default, int, "a whole number", minimum, maximum)

    def number(
        self,
        name: str,
        default: float,
        minimum: float | None = None,
        maximum: float | None = None,
        unit: str = "a number",
    ) -> float:
        return self._in_range(name, default, _finite, unit, minimum, maximum)

    def _in_range(
        self, name: str, default: Any, parse: Callable[[str], Any], what: str, minimum, maximum
    ) -> Any:
        """`name` as `parse` reads it (a ValueError refuses it as not `what`), in range."""
        raw = self._raw(name)
        if not raw:
            return default
        try:
            value = parse(raw)
        except ValueError:
            raise self.error(f"{name} must be {what}, got {raw!r}") from None
        self._check_range(name, value, minimum, maximum)
        return value

    def seconds(self, name: str, default: float) -> float:
        """A positive number of seconds."""
        value = self.number(name, default, unit="a number of seconds")
        if value <= 0:
            raise self.error(f"{name} must be positive, got {value}")
        return value

    def flag(self, name: str, default: bool) -> bool:
        raw = self._raw(name).lower()
        if not raw:
            return default
        if raw in {"1", "on", "true", "yes"}:
            return True
        if raw in {"0", "off", "false", "no"}:
            return False
        raise self.error(f"{name} must be on or off, got {raw!r}")

    def url(self, name: str, default: str) -> str:
        """An http(s) URL, without a trailing slash."""
        value = self._raw(name) or default
        if not value.startswith(("http://", "https://")):
            raise self.error(f"{name} must be an http(s) URL, got {value!r}")
        return value.rstrip("/")

    def _check_range(self, name: str, value: float, minimum: float | None, maximum: float | None) -> None:
        if minimum is not None and maximum is not None and not minimum <= value <= maximum:
            raise self.error(f"{name} must be between {minimum} and {maximum}, got {value}")
        if minimum is not None and value < minimum:
            raise self.error(f"{name} must be at least {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise self.error(f"{name} must be at most {maximum}, got {value}")


def _finite(raw: str) -> float:
    value = float(raw)
    if not math.isfinite(value):  # NaN would pass every range check
        raise ValueError(raw)
    return value
