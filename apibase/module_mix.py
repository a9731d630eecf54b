"""The rule for a persona's module weights, one home for the admin API and the catalog
loader: each weight a finite number from 0 to WEIGHT_MAX (check_weight, per module), at
least one above 0 (check_module_mix, the whole mix).

The runner draws modules in proportion to the weights: a weight of 1e308 overflows the
draw, and a mix of zeros gives it nothing to draw from.
"""

from __future__ import annotations

from collections.abc import Mapping

from apibase.limits import check_finite

WEIGHT_MAX = 1_000_000


def check_weight(weight: float) -> float:
    return check_finite(weight, 0, WEIGHT_MAX)


def check_module_mix(mix: Mapping[str, float]) -> Mapping[str, float]:
    if not any(weight > 0 for weight in mix.values()):
        raise ValueError("at least one module needs a weight above 0")
    return mix
