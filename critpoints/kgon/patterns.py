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
from math import comb, gcd

import numpy as np

__all__ = [
    "Pattern",
    "bracelet_count",
    "dead_vertex_placements",
    "enumerate_patterns",
    "label_of",
    "pattern_count",
]


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
    if k > 16:
        # The 2^k masks of _placements_by_count are too many: the placements are listed from
        # their C(k - 1, φ - 1) subsets that contain vertex 0 (few dead or few live vertices;
        # enumerate --max-dead-vertices keeps φ ≤ 4).
        return _few_placements(k, phi)
    return _placements_by_count(k)[phi]


def _few_placements(k: int, phi: int) -> tuple[tuple[int, ...], ...]:
    """:func:`dead_vertex_placements` by listing subsets (for min(φ, k − φ) small)."""
    if phi == 0:
        return ((),)
    if phi > k - phi:  # complement: a placement's canonical image is the smallest tuple
        live = _few_placements(k, k - phi)
        found = {min(tuple(sorted(set(range(k)) - set(image)))
                     for image in _dihedral_images(placement, k)) for placement in live}
        return tuple(sorted(found))
    found = set()
    for rest in combinations(range(1, k), phi - 1):
        placement = (0, *rest)
        if min(_dihedral_images(placement, k)) == placement:
            found.add(placement)
    return tuple(sorted(found))


def bracelet_count(k: int, phi: int) -> int:
    """Number of placements of φ dead vertices on a k-gon up to the dihedral group (binary
    bracelets of length k with φ ones), by Burnside's lemma: the mean over the 2k symmetries
    of the placements each one fixes."""
    if not 0 <= phi <= k:
        return 0
    if k == 0:
        return 1
    rotations = sum(totient(d) * comb(k // d, phi // d)
                    for d in range(1, k + 1) if k % d == 0 and phi % d == 0)
    if k % 2:  # every axis passes through one vertex
        reflections = k * comb((k - 1) // 2, phi // 2)
    else:  # k/2 axes through two vertices, k/2 through two edge midpoints
        through_vertices = sum(comb(2, j) * comb((k - 2) // 2, (phi - j) // 2)
                               for j in range(3) if j <= phi and (phi - j) % 2 == 0)
        through_edges = comb(k // 2, phi // 2) if phi % 2 == 0 else 0
        reflections = k // 2 * (through_vertices + through_edges)
    return (rotations + reflections) // (2 * k)


def totient(d: int) -> int:
    """Euler's φ(d)."""
    return sum(1 for j in range(1, d + 1) if gcd(j, d) == 1)


def pattern_count(n: int, max_dead_vertices: int | None = None) -> int:
    """How many patterns :func:`enumerate_patterns` lists (exactly, without listing them)."""
    return sum(bracelet_count(k, phi)
               for k in range(n + 1) for _sigma in range(n - k + 1)
               for phi in range(k + 1)
               if max_dead_vertices is None or phi <= max_dead_vertices)


@cache
def _placements_by_count(k: int) -> tuple[tuple[tuple[int, ...], ...], ...]:
    """:func:`dead_vertex_placements` for every φ = 0..k at once, vectorised over all 2^k
    subsets of the vertices.

    A subset is a k-bit mask with position p at bit k - 1 - p. For two subsets of equal size
    the lexicographically smaller sorted tuple of positions is the larger mask (at the first
    position where they differ, the smaller tuple has the vertex), so the canonical image is
    the largest mask over the 2k rotations and reflections.
    """
    if k == 0:
        return (((),),)
    masks = np.arange(1 << k, dtype=np.int64)
    positions = np.arange(k)
    # bit of position p in each mask, shape (2^k, k)
    bits = (masks[:, None] >> (k - 1 - positions)) & 1
    weights = np.int64(1) << (k - 1 - positions)
    best = masks.copy()
    for shift in range(k):
        for image in ((positions + shift) % k, (shift - positions) % k):
            # position p moves to image[p]
            best = np.maximum(best, bits @ weights[image])
    canonical = masks[best == masks]
    sizes = bits[canonical].sum(axis=1)
    out: list[list[tuple[int, ...]]] = [[] for _ in range(k + 1)]
    for mask, size in zip(canonical.tolist(), sizes.tolist()):
        out[size].append(tuple(p for p in range(k) if mask >> (k - 1 - p) & 1))
    return tuple(tuple(sorted(group)) for group in out)


def enumerate_patterns(n: int, max_dead_vertices: int | None = None) -> list[Pattern]:
    """Every pattern the language allows for n features: k = 0..n, σ = 0..n-k, φ = 0..k
    (φ ≤ ``max_dead_vertices`` when given: the language has ≈ Σ_k (n − k + 1)·2^k/(2k)
    patterns, 2.9·10⁸ at n = 32, almost all of them dead-vertex placements)."""
    if n < 1:
        raise ValueError(f"n must be at least 1; got {n}")
    if max_dead_vertices is not None and max_dead_vertices < 0:
        raise ValueError(f"max_dead_vertices must be ≥ 0; got {max_dead_vertices}")
    patterns = []
    for k in range(n + 1):
        for sigma in range(n - k + 1):
            for phi in range(k + 1):
                if max_dead_vertices is not None and phi > max_dead_vertices:
                    break
                placements = dead_vertex_placements(k, phi)
                for dead in placements:
                    patterns.append(Pattern(n, k, sigma, phi, dead, len(placements)))
    return patterns
