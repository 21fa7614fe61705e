"""Singular learning theory for the TMS potential (SPEC §5, issue 7).

Pure mathematics (no files, no printing). Submodules, imported on first attribute access:

- :mod:`~critpoints.slt.coefficients` theoretical learning coefficients: catalog entries (rank/2
  of the Hessian, nulls explained) and reduced-rank regression (Aoyagi–Watanabe 2005)
- :mod:`~critpoints.slt.potentials`   flat-vector potentials vectorised over chains: the TMS
  population potential, the empirical TMS loss (fast, exploits x = mu e_i), reduced-rank regression
- :mod:`~critpoints.slt.llc`          the λ̂ estimator's mathematics (update / finalize) and its
  diagnostics (traces, escaped draws, stationarity)
- :mod:`~critpoints.slt.sgld`         the SGLD sampling loop that feeds the estimator
- :mod:`~critpoints.slt.freeenergy`   free-energy constants (prior convention, Laplace /
  Morse–Bott), crossings of free energies, theoretical occupancy curves
- :mod:`~critpoints.slt.phases`       classification of parameters into catalog phases
- :mod:`~critpoints.slt.mcmc`         posterior sampling over a ladder of sample sizes (MALA with
  replica exchange), empirical occupancy curves
- :mod:`~critpoints.slt.volume`       λ as the volume-scaling exponent of the sublevel sets,
  estimated by nested sampling (independent of Hessians and straight-line tests)
- :mod:`~critpoints.slt.experiment`   the experiments of the ``phases`` and ``llc`` commands as
  functions returning records (``run_phases`` → ``PhasesResult``, ``run_llc`` → ``LLCRunResult``)
  whose ``to_json()`` is the command's document
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "LearningCoefficient": "coefficients",
    "theoretical_learning_coefficient": "coefficients",
    "reduced_rank_regression_lambda": "coefficients",
    "linear_autoencoder_lambda": "coefficients",
    "TMSPopulation": "potentials",
    "TMSEmpirical": "potentials",
    "ReducedRankRegression": "potentials",
    "LLCEstimator": "llc",
    "LLCResult": "llc",
    "sgld_llc": "sgld",
    "Phase": "freeenergy",
    "phases_from_catalog": "freeenergy",
    "prior_constant": "freeenergy",
    "laplace_constant": "freeenergy",
    "free_energy": "freeenergy",
    "crossing_sample_size": "freeenergy",
    "transitions": "freeenergy",
    "theoretical_occupancy": "freeenergy",
    "classify_phase": "phases",
    "phase_label": "phases",
    "nearest_catalog_entry": "phases",
    "sample_posterior_ladder": "mcmc",
    "VolumeScaling": "volume",
    "VolumeProfile": "volume",
    "nested_volume_profile": "volume",
    "fit_volume_exponent": "volume",
    "volume_scaling_exponent": "volume",
    "volume_scaling": "volume",
    "run_phases": "experiment",
    "PhasesResult": "experiment",
    "run_llc": "experiment",
    "LLCRunResult": "experiment",
}
__all__ = sorted(_EXPORTS)  # noqa: PLE0605  sorted() is a list; the names are written once, in _EXPORTS


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"critpoints.slt.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'critpoints.slt' has no attribute {name!r}")
