"""Diagnostics of a λ̂ run (``critpoints.llc`` document): running λ̂ and loss traces per chain.

Left: λ̂ from the draws so far, per chain, against the draw, with the theoretical λ, the
raw mean, and λ̂ − predicted bias when there is a prediction; chains that left the basin are
drawn dashed from their first exit on (truncated) or entirely grey (dropped). Right: the loss
trace of every chain (block means) relative to L(w*), scaled by Nβ, so that a settled chain
fluctuates around its λ̂.
"""

from __future__ import annotations

import numpy as np

from critpoints.plot._mpl import pyplot

__all__ = ["llc_figure"]


def llc_figure(document: dict, title: str | None = None):
    """The diagnostics figure of an ``llc --out`` document (version 2).

    Parameters
    ----------
    document : dict
        A ``critpoints.llc`` document (``critpoints.store.load_document``).
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    running, blocks = document.get("running_llc"), document.get("trace_blocks")
    if running is None or blocks is None:
        raise ValueError("the document has no traces (written before version 2): re-run llc")
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10.5, 4.0))
    draws = document["steps"] - document["burn_in"]
    actions = document["chain_action"]
    exits = document["first_exit_draw"]
    if not len(running) == len(blocks) == len(actions) == len(exits):
        raise ValueError(f"per-chain lists of different lengths (running_llc {len(running)}, "
                         f"trace_blocks {len(blocks)}, chain_action {len(actions)}, "
                         f"first_exit_draw {len(exits)})")
    nbeta, loss0 = document["nbeta"], document["init_loss"]
    for c, (series, trace) in enumerate(zip(running, blocks)):
        x = np.linspace(draws / len(series), draws, len(series))
        colour = "0.6" if actions[c] == "dropped" else plt.get_cmap("tab10")(c % 10)
        cut = len(series) if exits[c] is None else int(np.searchsorted(x, exits[c]))
        left.plot(x[:cut], series[:cut], color=colour, lw=1.0)
        if cut < len(series):
            left.plot(x[cut:], series[cut:], color=colour, lw=1.0, ls="--")
        xt = np.linspace(draws / len(trace), draws, len(trace))
        right.plot(xt, nbeta * (np.asarray(trace) - loss0), color=colour, lw=0.8, alpha=0.8)
    theory = document["theory"]["value"]
    if theory is not None:
        left.axhline(theory, color="k", lw=1.2, label=f"λ = {theory:g}")
    left.axhline(document["llc_mean"], color="k", lw=1.0, ls=":",
                 label=f"λ̂ = {document['llc_mean']:.2f}")
    if document.get("llc_corrected") is not None:
        left.axhline(document["llc_corrected"], color="tab:red", lw=1.0, ls="-.",
                     label=f"λ̂ − bias = {document['llc_corrected']:.2f}")
    left.set_xlabel("draw")
    left.set_ylabel("running λ̂ per chain")
    left.legend(loc="best")
    right.set_xlabel("draw")
    right.set_ylabel("Nβ (L − L(w*)), block means")
    acceptance = document.get("acceptance")
    accept = "" if acceptance is None else f", acceptance {np.mean(acceptance):.3f}"
    fig.suptitle(title or (
        f"λ̂ at {document['label']} (n = {document['n']}, {document['data']}, "
        f"N = {document['samples']:g}): ε = {document['epsilon']:.2g}, "
        f"γ = {document['gamma']:.3g}{accept}"))
    fig.tight_layout()
    return fig
