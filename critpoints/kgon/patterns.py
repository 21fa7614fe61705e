"""The k^{σ,φ}-gon pattern language of SPEC §3 (hidden dimension m = 2).

A pattern has k polygon columns (φ of them dead vertices, at given positions around the
polygon), σ zero columns with positive bias, and n - k - σ zero columns with bias ≤ 0 (dead
features). Its label is ``k`` + ``+``·σ + ``-``·φ (ASCII), e.g. ``5+`` or ``4++---``. Placements of
the dead vertices that no symmetry of the polygon relates (adjacent or opposite in a square) are
different orbits; each gets an id ``label{positions}``, e.g. ``4--{0,1}`` and ``4--{0,2}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from itertools import combinations

__all__ = ["Pattern", "dead_vertex_placements", "enumerate_patterns", "label_of"]


def label_of(k: int, sigma: int, phi: int) -> str:
    """``k`` followed by σ plus signs and φ minus signs (SPEC §3)."""
    return f"{k}{'+' * sigma}{'-' * phi}"


@dataclass(frozen=True)
class Pattern:
    """One k^{σ,φ}-gon pattern with a definite placement of its dead vertices."""

    n: int
    k: int
    sigma: int
    phi: int
    dead_vertices: tuple[int, ...]  # positions around the polygon, canonical (smallest) form
    placements: int  # how many inequivalent placements the family (k, σ, φ) has

    @property
    def label(self) -> str:
        return label_of(self.k, self.sigma, self.phi)

    @property
    def id(self) -> str:
        if self.placements > 1:
            return f"{self.label}{{{','.join(map(str, self.dead_vertices))}}}"
        return self.label

    @property
    def dead_features(self) -> int:
        return self.n - self.k - self.sigma

    @property
    def live_vertices(self) -> int:
        return self.k - self.phi


def _dihedral_images(positions: tuple[int, ...], k: int):
    for shift in range(k):
        yield tuple(sorted((p + shift) % k for p in positions))
        yield tuple(sorted((shift - p) % k for p in positions))


@cache
def dead_vertex_placements(k: int, phi: int) -> tuple[tuple[int, ...], ...]:
    """Placements of φ dead vertices on a regular k-gon, one per orbit of the dihedral group.

    Each placement is given by its lexicographically smallest image (so it contains 0 when
    φ ≥ 1). Examples: k = 4, φ = 2 gives ((0, 1), (0, 2)).
    """
    if not 0 <= phi <= k:
        raise ValueError(f"need 0 ≤ φ ≤ k; got φ = {phi}, k = {k}")
    seen: set[tuple[int, ...]] = set()
    out = []
    for positions in combinations(range(k), phi):
        canonical = min(_dihedral_images(positions, k)) if k else positions
        if canonical not in seen:
            seen.add(canonical)
            out.append(canonical)
    return tuple(sorted(out))


def enumerate_patterns(n: int) -> list[Pattern]:
    """Every pattern the language allows for n features: k = 0..n, σ = 0..n-k, φ = 0..k."""
    if n < 1:
        raise ValueError(f"n must be at least 1; got {n}")
    patterns = []
    for k in range(n + 1):
        for sigma in range(n - k + 1):
            for phi in range(k + 1):
                placements = dead_vertex_placements(k, phi)
                for dead in placements:
                    patterns.append(Pattern(n, k, sigma, phi, dead, len(placements)))
    return patterns
