"""Figures: energy levels with polygon glyphs, the transition graph, SGD curves, phases, the
disconnectivity graph of a landscape, the energy levels and 3-D glyphs of an m = 3 catalog,
λ̂ diagnostics.

matplotlib is the optional extra ``plot`` (``pip install 'critpoints[plot]'``) and is imported
only when a figure is drawn; importing :mod:`critpoints.plot` does not need it. Without it the
figure functions raise :class:`MissingMatplotlib` (an ImportError) saying how to install it.

>>> from critpoints.store import load_catalog
>>> from critpoints.plot import catalog_figure, save_figure
>>> save_figure(catalog_figure(load_catalog("catalog/tms-n6-m2.json"), top=6), "/tmp/levels.svg")
PosixPath('/tmp/levels.svg')
"""

from critpoints.plot._mpl import INSTALL_HINT, MissingMatplotlib, pyplot_available, save_figure
from critpoints.plot.figures import catalog_figure, phases_figure, sgd_figure, transition_figure
from critpoints.plot.glyph import draw_glyph, feature_roles
from critpoints.plot.landscape import disconnectivity_figure
from critpoints.plot.llc import llc_figure
from critpoints.plot.polytope import draw_polytope_glyph, polytope_figure
from critpoints.plot.sgd import SmallSweep, small_sweep
from critpoints.plot.sparsity import sparsity_branches_figure

__all__ = [
    "INSTALL_HINT",
    "MissingMatplotlib",
    "SmallSweep",
    "catalog_figure",
    "disconnectivity_figure",
    "draw_glyph",
    "draw_polytope_glyph",
    "feature_roles",
    "llc_figure",
    "phases_figure",
    "polytope_figure",
    "pyplot_available",
    "save_figure",
    "sgd_figure",
    "small_sweep",
    "sparsity_branches_figure",
    "transition_figure",
]
