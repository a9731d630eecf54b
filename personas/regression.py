"""The rule that says a module's ratings got worse (or better), by evidence: one place for
its thresholds, used by the insights route (recent days against the weeks before) and the
releases route (one product version against another)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from personas.ranktest import RATINGS, cliffs_delta, p_lower, p_two_sided

RECENT_DAYS = 7
BASELINE_DAYS = 28
# Holm-adjusted p-value at most this, across the modules tested in one answer.
ALPHA = 0.05
# Cliff's δ of the recent ratings against the baseline: a third of all pairs' balance.
MIN_EFFECT = 0.33
# Fewer ratings than this and the module is "insufficient": never flagged.
MIN_RECENT = 8
MIN_RECENT_PERSONAS = 3
MIN_BASELINE = 15

Direction = Literal["worse", "better"]


@dataclass
class Samples:
    """One module's ratings, counted per persona and rating value, on each side."""

    recent: dict[str, list[int]] = field(default_factory=dict)
    baseline: dict[str, list[int]] = field(default_factory=dict)

    def add(self, persona: str, recent: bool, rating: int, count: int) -> None:
        side = self.recent if recent else self.baseline
        side.setdefault(persona, [0] * len(RATINGS))[rating - 1] += count

    def counts(self, recent: bool, without: str | None = None) -> list[int]:
        side = self.recent if recent else self.baseline
        rows = [c for persona, c in side.items() if persona != without]
        return [sum(column) for column in zip(*rows, strict=True)] if rows else [0] * len(RATINGS)

    def personas(self) -> set[str]:
        return set(self.recent) | set(self.baseline)


@dataclass(frozen=True)
class Finding:
    """What the rule says of one module. `p_value` is Holm-adjusted; None when not tested."""

    recent_count: int
    baseline_count: int
    recent_personas: int
    recent_avg: float | None
    baseline_avg: float | None
    effect: float | None
    p_value: float | None
    enough: bool
    direction: Direction | None

    @property
    def verdict(self) -> str:
        if not self.enough:
            return "insufficient"
        return self.direction or "same"


def samples_from(rows: Iterable[Mapping[str, Any]]) -> dict[str, Samples]:
    """Rows of (module, persona, recent, rating, n), as the rule's queries return them."""
    modules: dict[str, Samples] = {}
    for row in rows:
        samples = modules.setdefault(row["module"], Samples())
        samples.add(row["persona"], row["recent"], row["rating"], row["n"])
    return modules


def judge(modules: Mapping[str, Samples], two_sided: bool = False) -> dict[str, Finding]:
    """Each module's finding; one-sided (only "worse") unless `two_sided`."""
    raw = {m: _p(s.counts(True), s.counts(False), two_sided) for m, s in modules.items() if _enough(s)}
    factors = holm_factors(raw)
    adjusted = holm(raw, factors)
    return {
        module: _finding(samples, adjusted.get(module), factors.get(module), two_sided)
        for module, samples in modules.items()
    }


def holm_factors(pvalues: Mapping[str, float]) -> dict[str, int]:
    """Holm's multiplier of each p-value: m for the smallest, m - 1 for the next, ..."""
    ordered = sorted(pvalues, key=lambda k: (pvalues[k], k))
    return {key: len(ordered) - i for i, key in enumerate(ordered)}


def holm(pvalues: Mapping[str, float], factors: Mapping[str, int]) -> dict[str, float]:
    """Holm's step-down adjustment: never below the adjusted p-value of a smaller raw one."""
    adjusted, running = {}, 0.0
    for key in sorted(pvalues, key=lambda k: (pvalues[k], k)):
        running = max(running, min(1.0, factors[key] * pvalues[key]))
        adjusted[key] = running
    return adjusted


def _enough(samples: Samples) -> bool:
    recent_personas = sum(1 for c in samples.recent.values() if sum(c))
    return (
        sum(samples.counts(True)) >= MIN_RECENT
        and recent_personas >= MIN_RECENT_PERSONAS
        and sum(samples.counts(False)) >= MIN_BASELINE
    )


def _p(recent: list[int], baseline: list[int], two_sided: bool) -> float:
    return p_two_sided(recent, baseline) if two_sided else p_lower(recent, baseline)


def _finding(samples: Samples, p_value: float | None, factor: int | None, two_sided: bool) -> Finding:
    recent, baseline = samples.counts(True), samples.counts(False)
    effect = cliffs_delta(recent, baseline)
    direction = None
    if p_value is not None and factor is not None and effect is not None:
        direction = _direction(p_value, effect, two_sided)
        if direction and not _survives_leaving_out(samples, direction, factor, two_sided):
            direction = None
    return Finding(
        recent_count=sum(recent),
        baseline_count=sum(baseline),
        recent_personas=sum(1 for c in samples.recent.values() if sum(c)),
        recent_avg=_mean(recent),
        baseline_avg=_mean(baseline),
        effect=effect,
        p_value=p_value,
        enough=p_value is not None,
        direction=direction,
    )


def _direction(p_value: float, effect: float, two_sided: bool) -> Direction | None:
    if p_value > ALPHA:
        return None
    if effect <= -MIN_EFFECT:
        return "worse"
    if two_sided and effect >= MIN_EFFECT:
        return "better"
    return None


def _survives_leaving_out(samples: Samples, direction: Direction, factor: int, two_sided: bool) -> bool:
    """The same finding without any one persona's ratings, at the module's Holm multiplier:
    one persona's bad week must not decide it. The sample minimums are the whole module's."""
    for persona in samples.personas():
        recent, baseline = samples.counts(True, persona), samples.counts(False, persona)
        effect = cliffs_delta(recent, baseline)
        if effect is None:
            return False
        p_value = min(1.0, factor * _p(recent, baseline, two_sided))
        if _direction(p_value, effect, two_sided) != direction:
            return False
    return True


def _mean(counts: list[int]) -> float | None:
    n = sum(counts)
    return sum(r * c for r, c in zip(RATINGS, counts, strict=True)) / n if n else None


def rounded(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def significant(p_value: float | None) -> float | None:
    """A p-value to three significant digits (a tiny one stays above 0)."""
    return None if p_value is None else float(f"{p_value:.3g}")
