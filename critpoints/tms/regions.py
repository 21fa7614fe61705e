"""The activation regions of a block of the TMS potential: the one place that states the rule.

Block (i, j) of L integrates ReLU(a μ + c) over μ ∈ [0, 1] with a = W_i·W_j and c = b_j. The
affine function is switched on at μ = 0 iff c > 0 and at μ = 1 iff a + c > 0, so

    region = 2·[c > 0] + [a + c > 0]:  0 dead, 1 rising, 2 falling, 3 live,

with the ReLU off on a boundary (ReLU'(0) = 0). Every number system decides the two signs its
own way (floats with a tolerance, mpmath, exact fractions, Arb balls that must be certain) and
then calls :func:`region_of`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["REGION_NAMES", "block_region", "region_of"]

REGION_NAMES = ("dead", "rising", "falling", "live")


def region_of(on_at_start: Any, on_at_end: Any) -> Any:
    """Region code from whether the block is on at μ = 0 (c > 0) and at μ = 1 (a + c > 0).

    Works on Python bools and on numpy boolean arrays (giving int8 codes).
    """
    if hasattr(on_at_start, "astype"):
        return 2 * on_at_start.astype("int8") + on_at_end.astype("int8")
    return 2 * int(bool(on_at_start)) + int(bool(on_at_end))


def block_region(a: Any, c: Any, atol: Any = 0) -> Any:
    """Region code of a block with slope a and offset c (scalars or arrays of any number type
    with ordered comparisons). A block within ``atol`` of a boundary counts as on it (ReLU off)."""
    return region_of(c > atol, a + c > atol)
