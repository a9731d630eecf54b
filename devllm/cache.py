"""Prompt caching billed as the API bills it.

A breakpoint (`cache_control` on a tool, a system block or a message's content block)
asks for the prompt up to it to be cached: written when it is at least the model's
minimum, living its ttl (5 minutes, or `"ttl": "1h"`), each hit starting that life again.
A request reads the longest live cached prefix found at one of its breakpoints or up to
LOOKBACK_BLOCKS blocks before one; what lies past it up to the last cacheable breakpoint
is written; the rest is plain input. Caches belong to an API key (and a model: its name
seeds every block's digest), so every request sent with one key shares them.

The clock is devllm's own (`POST /dev/clock` moves it on), so a test sees a cache lapse
without waiting for it.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass
from itertools import accumulate

from devllm.prompt import LOOKBACK_BLOCKS, Block

DEFAULT_MINIMUM = 1024
# The smaller models need a longer prefix before they cache it.
MINIMUM_BY_FAMILY = {"haiku": 2048}


def minimum_tokens(model: str) -> int:
    return next((n for family, n in MINIMUM_BY_FAMILY.items() if family in model), DEFAULT_MINIMUM)


@dataclass(frozen=True)
class Billed:
    input_tokens: int
    cache_creation_input_tokens: int
    cache_read_input_tokens: int


class Clock:
    """Monotonic seconds, moved on by `advance` (a dev switch), never back."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.monotonic() + self.offset

    def advance(self, seconds: float) -> float:
        self.offset += seconds
        return self.offset


class PromptCache:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], tuple[float, int]] = {}  # -> (expires, ttl)

    def bill(self, api_key: str, model: str, prompt: list[Block]) -> Billed:
        owner = hashlib.sha256(api_key.encode()).hexdigest()
        ends = list(accumulate(b.tokens for b in prompt))
        breakpoints = [i for i, b in enumerate(prompt) if b.ttl is not None]
        minimum = minimum_tokens(model)
        with self._lock:
            now = self.clock.now()
            self._prune(now)
            read_end = max((self._hit(owner, prompt, b, now) for b in breakpoints), default=-1)
            written_to = read_end
            for b in breakpoints:
                if b > read_end and ends[b] >= minimum:
                    self._entries[(owner, prompt[b].digest)] = (now + prompt[b].ttl, prompt[b].ttl)
                    written_to = b
        read = ends[read_end] if read_end >= 0 else 0
        written = ends[written_to] - read if written_to >= 0 else 0
        total = ends[-1] if ends else 0
        return Billed(total - read - written, written, read)

    def _hit(self, owner: str, prompt: list[Block], breakpoint: int, now: float) -> int:
        """The last block of the longest live cached prefix at or shortly before
        `breakpoint` (its life started again), or -1."""
        for at in range(breakpoint, max(breakpoint - LOOKBACK_BLOCKS, -1), -1):
            entry = self._entries.get((owner, prompt[at].digest))
            if entry is not None:
                self._entries[(owner, prompt[at].digest)] = (now + entry[1], entry[1])
                return at
        return -1

    def _prune(self, now: float) -> None:
        for key in [k for k, (expires, _) in self._entries.items() if expires <= now]:
            del self._entries[key]
