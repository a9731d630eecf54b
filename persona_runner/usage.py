"""Tokens and their cost over every model request of a tick."""

from __future__ import annotations

from dataclasses import dataclass

MTOK = 1_000_000
# A cache read costs a tenth of an input token; the token cap counts it so.
CACHE_READ_SHARE = 10


@dataclass(frozen=True)
class Prices:
    """USD per million tokens of each kind."""

    input: float
    output: float
    cache_read: float
    cache_write: float


@dataclass(frozen=True)
class Tokens:
    """One answer's tokens, as every API's usage is read into: `input` is what was not
    read from or written to a cache (it is billed at the input price)."""

    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0

    def counts(self) -> tuple[int, int, int, int]:
        return (self.input, self.output, self.cache_read, self.cache_write)


@dataclass
class Usage:
    """Summed over the tick's successful requests (a failed attempt the SDK retried
    costs nothing and reports no usage, so nothing is counted twice)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: float = 0.0
    requests: int = 0

    @property
    def capped(self) -> int:
        """What the per-tick token cap counts: what the tick is billed for, in input
        tokens' worth. Input, cache writes and output count whole; cache reads, billed
        at a tenth of the input price, count a tenth. Without caching: input + output."""
        whole = self.input_tokens + self.cache_write_tokens + self.output_tokens
        return whole + self.cache_read_tokens // CACHE_READ_SHARE

    def add_tokens(self, tokens: Tokens, prices: Prices) -> None:
        """Add one answer's tokens and their cost."""
        self.input_tokens += tokens.input
        self.output_tokens += tokens.output
        self.cache_read_tokens += tokens.cache_read
        self.cache_write_tokens += tokens.cache_write
        self.cost_usd += cost_usd(*tokens.counts(), prices=prices)
        self.requests += 1


def cost_usd(
    input_tokens: int, output_tokens: int, cache_read: int, cache_write: int, prices: Prices
) -> float:
    return (
        input_tokens * prices.input
        + output_tokens * prices.output
        + cache_read * prices.cache_read
        + cache_write * prices.cache_write
    ) / MTOK
