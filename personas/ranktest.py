"""The two-sample rank test on 1-5 ratings, exact under ties, and Cliff's δ.

Ratings take five values, so almost every rating is tied with others. The exact null
distribution of the rank sum given those ties is the distribution over the 2x5 tables
with the observed margins (which ratings fall in which sample, every split equally
likely): we count the splits of each rating value, category by category, in integers, so
the p-value is exact and the same on every call. Libraries' exact Mann-Whitney tests
assume no ties, and permutation tests by enumeration cannot reach our sample sizes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

RATINGS = (1, 2, 3, 4, 5)
# Above this many (smaller sample times all ratings; 40 recent among 250, say) the exact count
# takes more than a few hundredths of a second, and a module is counted once per persona; the
# normal approximation with the tie correction is then within a few thousandths.
EXACT_LIMIT = 10_000


def cliffs_delta(a: Sequence[int], b: Sequence[int]) -> float | None:
    """P(a > b) - P(a < b) over every pair, from counts per rating value; None when empty."""
    pairs = sum(a) * sum(b)
    if pairs == 0:
        return None
    above = below = 0
    for i, count in enumerate(a):
        above += count * sum(b[:i])
        below += count * sum(b[i + 1 :])
    return (above - below) / pairs


def p_lower(a: Sequence[int], b: Sequence[int], exact: bool | None = None) -> float:
    """One-sided p-value that sample `a` (counts per rating 1..5) ranks lower than `b`:
    exact, or by the normal approximation (`exact=False`; by default above EXACT_LIMIT)."""
    if sum(a) <= sum(b):
        return _tail(a, b, lower=True, exact=exact)
    return _tail(b, a, lower=False, exact=exact)


def p_two_sided(a: Sequence[int], b: Sequence[int]) -> float:
    return min(1.0, 2 * min(p_lower(a, b), p_lower(b, a)))


def _doubled_midranks(totals: Sequence[int]) -> list[int]:
    """Twice the mid-rank of each rating value (integers, so the sums stay exact)."""
    ranks, below = [], 0
    for total in totals:
        ranks.append(2 * below + total + 1)
        below += total
    return ranks


def _tail(small: Sequence[int], other: Sequence[int], lower: bool, exact: bool | None) -> float:
    """P(rank sum of `small` ≤ observed) (or ≥, when not `lower`) over every split."""
    totals = [x + y for x, y in zip(small, other, strict=True)]
    n, everyone = sum(small), sum(totals)
    if n in (0, everyone):
        return 1.0
    ranks = _doubled_midranks(totals)
    observed = sum(x * r for x, r in zip(small, ranks, strict=True))
    if exact is False or (exact is None and n * everyone > EXACT_LIMIT):
        return _normal_tail(n, totals, ranks, observed, lower)
    ways = _rank_sum_ways(n, totals, ranks)
    hits = sum(count for w, count in ways.items() if (w <= observed if lower else w >= observed))
    return hits / math.comb(everyone, n)


def _rank_sum_ways(n: int, totals: Sequence[int], ranks: Sequence[int]) -> dict[int, int]:
    """Doubled rank sum → the number of ways to pick `n` ratings with that sum."""
    states: dict[tuple[int, int], int] = {(0, 0): 1}
    left = sum(totals)
    for total, rank in zip(totals, ranks, strict=True):
        left -= total
        following: dict[tuple[int, int], int] = {}
        for (taken, w), count in states.items():
            # Take x of this value; the values after it must be able to fill the rest.
            for x in range(max(0, n - taken - left), min(total, n - taken) + 1):
                key = (taken + x, w + x * rank)
                following[key] = following.get(key, 0) + count * math.comb(total, x)
        states = following
    return {w: count for (_, w), count in states.items()}


def _normal_tail(n: int, totals: Sequence[int], ranks: Sequence[int], observed: int, lower: bool) -> float:
    everyone = sum(totals)
    mean = n * (everyone + 1)  # doubled, as the ranks are
    ties = sum(t**3 - t for t in totals)
    variance = 4 * n * (everyone - n) / 12 * ((everyone + 1) - ties / (everyone * (everyone - 1)))
    if variance <= 0:
        return 1.0
    z = (observed - mean) / math.sqrt(variance)
    # P(Z <= z) for the lower tail, P(Z >= z) for the upper one.
    return 0.5 * math.erfc((-z if lower else z) / math.sqrt(2))
