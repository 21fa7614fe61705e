"""Markdown tables of what the catalogs say about the landscape, n by n: the census statistics,
the minima, the global minimum. Pure: catalogs in, text out. ``python -m critpoints docs`` puts
them into docs/landscape.md and README.md between named markers and checks that they are
current (:func:`update_sections`)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from critpoints.catalog import Catalog

__all__ = [
    "SECTIONS",
    "census_markdown",
    "global_minima_markdown",
    "landscape_markdown",
    "minima_markdown",
    "update_sections",
]


def _minima(catalog: Catalog) -> list[dict]:
    return sorted(catalog.minima(), key=lambda p: (p["loss"], p["id"]))


def _shape(point: dict) -> str:
    """In words: a regular k-gon pattern, or what the irregular point is made of."""
    k, sigma, phi = point["k"], point["sigma"], point["phi"]
    parts = [f"{k} nonzero columns"] if not point["regular"] else [f"regular {k}-gon"]
    if sigma:
        parts.append(f"{sigma} zero column{'s' if sigma > 1 else ''} with b > 0")
    if phi:
        parts.append(f"{phi} dead vertex{'es' if phi > 1 else ''}")
    return ", ".join(parts)


def _lambda(point: dict) -> str:
    value = point.get("learning_coefficient")
    return "–" if value is None else f"{value:g}"


def census_markdown(catalogs: Iterable[Catalog]) -> str:
    """One row per catalog with a census record: orbits, entries by verdict, per-strategy
    first finds, the random sample's statistics and the stopping reason."""
    lines = [
        "| n | random starts | orbits (catalogued) | minima | saddles | found first: pattern / "
        "random / kick / ascent / descent | orbits hit by random starts (f₁, f₂) | new in last "
        "20 % | Chao1 unseen | never hit at random |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for catalog in catalogs:
        census = catalog.to_json().get("census")
        if census is None:
            continue
        first = {s: row["orbits_first_found"] for s, row in census["strategies"].items()}
        random_first = sum(first[s] for s in ("gaussian", "polar", "sparse"))
        sample = census["random_sample"]
        verdicts = [p["verdict"] for p in catalog]
        lines.append(
            f"| {catalog.model.n} | {sample['starts']:,} | {census['orbits']} "
            f"({census['orbits_catalogued']}) | {verdicts.count('minimum')} | "
            f"{verdicts.count('saddle')} | {first['pattern']} / {random_first} / {first['kick']} "
            f"/ {first['ascent']} / {first['descent']} | {sample['orbits_hit']} "
            f"({sample['singletons']}, {sample['doubletons']}) | "
            f"{sample['new_in_last_20_percent']} | {sample['unseen_estimate']:g} | "
            f"{sample['orbits_never_hit']} |"
        )
    return "\n".join(lines) + "\n"


def minima_markdown(catalogs: Iterable[Catalog]) -> str:
    """Every catalogued minimum per n: id, loss, classification, shape, λ."""
    out = []
    for catalog in catalogs:
        minima = _minima(catalog)
        out.append(f"**n = {catalog.model.n}** ({len(minima)} minima)\n")
        out.append("| id | L | classification | shape | origin | λ |")
        out.append("|---|---|---|---|---|---|")
        for p in minima:
            out.append(f"| `{p['id']}` | {p['loss']:.9f} | {p['classification']} | "
                       f"{_shape(p)} | {p['origin']} | {_lambda(p)} |")
        out.append("")
    return "\n".join(out)


def global_minima_markdown(catalogs: Iterable[Catalog]) -> str:
    """Per n: the lowest minimum, the regular n-gon's verdict and rank, and the counts."""
    lines = [
        "| n | global minimum | L | shape | regular n-gon | minima | saddles | source |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for catalog in catalogs:
        n = catalog.model.n
        minima = _minima(catalog)
        lowest = minima[0]
        ngon = catalog.get(str(n))
        if ngon is None:
            ngon_text = "not a critical point"
        elif ngon["verdict"] == "minimum":
            rank = [p["id"] for p in minima].index(str(n)) + 1
            ngon_text = "global minimum" if rank == 1 else \
                f"minimum, {_ordinal(rank)} lowest (L = {ngon['loss']:.6f})"
        else:
            index = ngon["hessian_index"]
            ngon_text = f"{ngon['verdict']}" + (f", index {index}" if index is not None else "")
        verdicts = [p["verdict"] for p in catalog]
        source = "census" if "census" in catalog.to_json() else "k-gons + random starts"
        lines.append(f"| {n} | `{lowest['id']}` | {lowest['loss']:.6f} | {_shape(lowest)} | "
                     f"{ngon_text} | {verdicts.count('minimum')} | {verdicts.count('saddle')} | "
                     f"{source} |")
    return "\n".join(lines) + "\n"


def _ordinal(k: int) -> str:
    return f"{k}{'th' if 10 <= k % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(k % 10, 'th')}"


def landscape_markdown(landscapes: Iterable) -> str:
    """Per landscape graph: the descents and their ends, the index-1 saddles with both ends at
    minima, and the lowest barrier joining the global minimum to each other minimum."""
    from critpoints.landscape import minimum_pathways

    lines = [
        "| n | saddles examined | descents | ends: flat-set / critical-set match, unmatched | "
        "index-1 saddles (both ends at minima) | non-smooth saddles (every end a minimum) | "
        "pairs of minima joined |",
        "|---|---|---|---|---|---|---|",
    ]
    saddle_rows = ["| n | index-1 saddle (L) | ends (barrier from the saddle) |", "|---|---|---|"]
    for G in landscapes:
        g = G.graph
        n = g["model"]["n"]
        rules = [d.get("match", "flat-set") for _, _, d in G.edges(data=True)]
        lines.append(
            f"| {n} | {g['saddles_examined']} | {g['descents']} | {rules.count('flat-set')} / "
            f"{rules.count('critical-set')}, {g['ends_unmatched']} | {g['index1_saddles']} "
            f"({g['index1_saddles_both_ends_minima']}) | {g['nonsmooth_saddles']} "
            f"({g['nonsmooth_saddles_every_end_minimum']}) | {len(minimum_pathways(G))} |")
        for node, data in G.nodes(data=True):
            if data["hessian_index"] == 1:
                ends = ", ".join(sorted({f"`{v}` ({d['barrier']:.4g})"
                                         for _, v, d in G.out_edges(node, data=True)}))
                saddle_rows.append(f"| {n} | `{node}` ({data['loss']:.6f}) | "
                                   f"{ends or 'no catalogued end'} |")
    return "\n".join(lines) + "\n\nIndex-1 saddles and where steepest descent takes them:\n\n" \
        + "\n".join(saddle_rows) + "\n"


#: Generated sections: name → (function of the catalogs, which catalogs).
SECTIONS: dict[str, tuple[Callable[[list[Catalog]], str], str]] = {
    "census-statistics": (census_markdown, "census"),
    "minima": (minima_markdown, "census"),
    "global-minima": (global_minima_markdown, "all"),
    "landscape-summary": (landscape_markdown, "landscapes"),
}


def _markers(name: str) -> tuple[str, str]:
    return (f"<!-- BEGIN GENERATED {name} by `python -m critpoints docs --write`: do not edit -->",
            f"<!-- END GENERATED {name} -->")


def update_sections(text: str, catalogs: list[Catalog], landscapes: list | None = None) -> str:
    """``text`` with every named generated section (:data:`SECTIONS`) it contains rewritten from
    the catalogs (those with a census record for the census sections) and the landscape
    graphs."""
    for name, (render, which) in SECTIONS.items():
        begin, end = _markers(name)
        pattern = re.compile(re.escape(begin) + r"\n.*?" + re.escape(end), re.S)
        if not pattern.search(text):
            continue
        chosen = (list(landscapes or []) if which == "landscapes" else
                  [c for c in catalogs if which == "all" or "census" in c.to_json()])
        replacement = f"{begin}\n{render(chosen)}{end}"
        text = pattern.sub(lambda _, new=replacement: new, text)
    return text
