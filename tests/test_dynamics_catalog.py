"""A small TMS catalog built in the test suite (never committed as a file), and its checks.

The dynamics tests identify plateaus against catalogued critical points; until the project's
catalog ``catalog/tms-n6-m2.json`` exists they use this one: regular k-gons started from the
published (l, b) of SPEC §2 and refined by the full-space critical point search, so every entry is
an independent computation, checked here against the published losses.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

from critpoints import tms
from critpoints.catalog import Catalog, entry_id, new_document, validate
from critpoints.solve import find_critical_points
from critpoints.tms.model import TMSPotential

# Published (SPEC §2, Chen et al. 2023): (l, vertex bias) of the regular k-gons for n = 6.
HEXAGON = (1.32053, -0.61814)
PENTAGON = (1.17046, -0.28230)
SQUARE = (1.0, 0.0)
# Published learning coefficients (SPEC §5): 5-gon 7, 5+ 8.5, 6-gon 8.5.
PUBLISHED_LAMBDA = {"6": 8.5, "5": 7.0, "5+": 8.5}


def polygon_start(n: int, k: int, l: float, vertex_bias: float, sigma: int, phi: int):
    """A regular k-gon of radius l in the first k columns, phi of its vertices dead (bias
    -1.5 l²), sigma zero columns with bias 1/(2n), the rest zero with bias -0.1."""
    angles = 2 * np.pi * np.arange(k) / k
    W = np.zeros((2, n))
    W[:, :k] = l * np.stack([np.cos(angles), np.sin(angles)])
    b = np.full(n, -0.1)
    b[:k] = vertex_bias
    dead = [0, 2, 1, 3][:phi]  # opposite vertices first
    b[dead] = -1.5 * l**2
    b[k : k + sigma] = 1 / (2 * n)
    return W, b


def label(k: int, sigma: int, phi: int) -> str:
    return f"{k}" + "+" * sigma + "-" * phi


def build_catalog(n: int = 6) -> dict:
    """A catalog dict shaped like ``critpoints.catalog.load_catalog``'s, for n = 6."""
    patterns = [(6, *HEXAGON, 0, 0), (5, *PENTAGON, 0, 0), (5, *PENTAGON, 1, 0)]
    patterns += [(4, *SQUARE, s, p) for s in range(3) for p in range(3)]
    starts = [polygon_start(n, k, l, v, s, p) for k, l, v, s, p in patterns]
    W0 = np.stack([W for W, _ in starts])
    b0 = np.stack([b for _, b in starts])
    model = TMSPotential(n)
    search = find_critical_points(model, model.flatten(W0, b0), gtol=1e-13)
    points = []
    found = zip(patterns, *search.parameters, search.grad_norm, search.converged)
    for (k, _, _, sigma, phi), W, b, grad_norm, ok in found:
        if not ok:
            continue
        name = label(k, sigma, phi)
        eigenvalues = np.linalg.eigvalsh(tms.hessian(W, b))
        tol = 1e-8 * np.abs(eigenvalues).max()
        points.append(
            {
                "id": name,
                "label": name,
                "k": k,
                "sigma": sigma,
                "phi": phi,
                "W": W.tolist(),
                "b": b.tolist(),
                "loss": float(tms.loss(W, b)),
                "loss_exact": mpmath.nstr(tms.loss(W.tolist(), b.tolist(), dps=30), 30),
                "grad_norm": float(grad_norm),
                "precision_digits": 15,
                "hessian": {
                    "eigenvalues": eigenvalues.tolist(),
                    "n_pos": int((eigenvalues > tol).sum()),
                    "n_neg": int((eigenvalues < -tol).sum()),
                    "n_zero": int((np.abs(eigenvalues) <= tol).sum()),
                    "n_zero_symmetry": 1,
                },
                "hessian_index": int((eigenvalues < -tol).sum()),
                "classification": "minimum" if name in PUBLISHED_LAMBDA else "degenerate",
                "learning_coefficient": PUBLISHED_LAMBDA.get(name),
                "on_boundary": False,
                "certificate": None,
                "exact": None,
                "verdict": "undecided",
                "evidence": {"method": "test suite: Levenberg-Marquardt from a regular polygon"},
            }
        )
    return new_document(
        {"kind": "tms-high-sparsity", "n": n, "m": 2}, points, "tests/test_dynamics_catalog.py"
    )


@pytest.fixture(scope="session")
def catalog6() -> dict:
    return build_catalog(6)


def test_built_catalog_reproduces_published_losses(catalog6):
    losses = {entry_id(p): p["loss"] for p in Catalog.from_document(catalog6)}
    # SPEC §2 table (published to 5 digits).
    assert losses["6"] == pytest.approx(0.04819, abs=1e-5)
    assert losses["5"] == pytest.approx(0.06874, abs=1e-5)
    assert losses["5+"] == pytest.approx(0.06180, abs=1e-5)
    assert losses["4+"] == pytest.approx(0.10417, abs=1e-5)
    # A zero column with positive bias lowers L by exactly 1/(4n²) (SPEC §2).
    assert losses["4++"] == pytest.approx(losses["4+"] - 1 / 144, abs=1e-12)


def test_built_catalog_is_schema_valid(catalog6):
    validate(catalog6, "built catalog")  # raises CatalogError if not
