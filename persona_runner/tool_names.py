"""Product tool names (`todo.create`) in the alphabet the Messages API allows for tool
names (^[a-zA-Z0-9_-]{1,64}$), and back.

The plain mapping writes `.` as `__` (`todo__create`), which a person reading the
conversation still recognises. A name that would not fit (other characters, too long,
already taken by another tool, or reserved) gets a safe stem plus a short hash of the
product name, so every product name has exactly one model name and the way back is a
lookup, never a guess.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

ALLOWED = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
NOT_ALLOWED = re.compile(r"[^a-zA-Z0-9_-]")
MAX_LENGTH = 64
HASH_LENGTH = 10


def plain_name(product_name: str) -> str:
    return product_name.replace(".", "__")


def hashed_name(product_name: str) -> str:
    """A stem of the allowed characters, then `_` and a hash of the whole product name."""
    digest = hashlib.sha256(product_name.encode()).hexdigest()[:HASH_LENGTH]
    stem = NOT_ALLOWED.sub("_", plain_name(product_name))[: MAX_LENGTH - HASH_LENGTH - 1]
    return f"{stem}_{digest}"


@dataclass(frozen=True)
class ToolNames:
    """Both directions of the mapping for one tick's tool list."""

    to_model: dict[str, str] = field(default_factory=dict)
    to_product: dict[str, str] = field(default_factory=dict)

    def model_name(self, product_name: str) -> str:
        return self.to_model[product_name]

    def product_name(self, model_name: str) -> str | None:
        """The product's name for a name the model used; None for one it was never offered."""
        return self.to_product.get(model_name)


def map_tool_names(product_names: Iterable[str], reserved: Iterable[str] = ()) -> ToolNames:
    """Map every product name to a distinct allowed name; `reserved` names (the driver's
    own tools) are never handed out."""
    names = list(dict.fromkeys(product_names))
    taken = set(reserved)
    plain = [plain_name(n) for n in names]
    clashing = {p for p in plain if plain.count(p) > 1}
    to_model: dict[str, str] = {}
    # Plain names first, so a hashed name can never take a plain one's place.
    for name, candidate in zip(names, plain, strict=True):
        if ALLOWED.fullmatch(candidate) and candidate not in clashing and candidate not in taken:
            to_model[name] = candidate
            taken.add(candidate)
    for name in names:
        if name in to_model:
            continue
        candidate, salt = hashed_name(name), 0
        while candidate in taken:
            salt += 1
            candidate = hashed_name(f"{name}#{salt}")
        to_model[name] = candidate
        taken.add(candidate)
    return ToolNames(to_model=to_model, to_product={v: k for k, v in to_model.items()})
