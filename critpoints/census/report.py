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
    "THOMSON_TAMMES",
    "census_markdown",
    "embedded_polygons_markdown",
    "global_minima_markdown",
    "landscape_markdown",
    "minima_markdown",
    "polytope_census_markdown",
    "polytope_index1_markdown",
    "polytope_minima_markdown",
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
        document = catalog.to_json()
        budget = (document.get("pattern_language") or {}).get("max_dead_vertices")
        source = ("census" if "census" in document else "k-gons + random starts"
                  if budget is None else f"k-gons with φ ≤ {budget} + random starts")
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


# ----------------------------------------------------------------------------------------------
# Hidden dimension m ≥ 3 (docs/polytopes.md)


def _symmetry(point: dict) -> tuple[str, str]:
    """(shape, point group) of an m ≠ 2 entry, with its σ columns and dead vertices."""
    record = point.get("symmetry") or {}
    shape = record.get("shape", "–")
    extra = []
    if point["sigma"]:
        extra.append(f"{point['sigma']} zero column{'s' if point['sigma'] > 1 else ''} "
                     "with b > 0")
    if point["phi"]:
        extra.append(f"{point['phi']} dead vertex{'es' if point['phi'] > 1 else ''}")
    return ", ".join([shape, *extra]), record.get("point_group", "–")


def _loss(value: float, digits: int = 9) -> str:
    """A loss to ``digits`` decimals, without the sign of a rounding-level negative zero."""
    text = f"{value:.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def _by_m(catalogs: Iterable[Catalog], m: int) -> list[Catalog]:
    return sorted((c for c in catalogs if c.model.m == m), key=lambda c: c.model.n)


#: The optimal configurations of n points on the 2-sphere (m = 3) for the Thomson problem
#: (minimum Coulomb energy) and the Tammes problem (largest minimum angle), n = 4..8. Thomson:
#: tetrahedron, triangular bipyramid, octahedron, pentagonal bipyramid, square antiprism (the
#: table of global minima of Wales & Ulker, Phys. Rev. B 74, 212101 (2006)). Tammes: n = 4, 6
#: proved by Fejes Tóth (1943), n = 5, 7, 8 by Schütte & van der Waerden (1951); n = 5 reaches
#: 90° with several configurations (triangular bipyramid, square pyramid), n = 7 has minimum
#: angle 1.3590799 rad ≈ 77.87° (OEIS A383859), n = 8 is the square antiprism.
THOMSON_TAMMES: dict[int, tuple[str, str]] = {
    4: ("regular tetrahedron (Td)", "regular tetrahedron (Td)"),
    5: ("triangular bipyramid (D3h)", "not unique: triangular bipyramid or square pyramid, "
        "minimum angle 90°"),
    6: ("regular octahedron (Oh)", "regular octahedron (Oh)"),
    7: ("pentagonal bipyramid (D5h)", "Schütte–van der Waerden configuration (C3v), minimum "
        "angle ≈ 77.87°"),
    8: ("square antiprism (D4d)", "square antiprism (D4d)"),
}


def polytope_census_markdown(catalogs: Iterable[Catalog]) -> str:
    """Per n (m = 3): the census statistics, what the descent closure added, the global
    minimum with its shape and point group, and the Thomson and Tammes optima for the same
    number of points."""
    lines = [
        "| n | random starts | orbits (catalogued) | descent closure: new points (descents) "
        "| minima | saddles | Chao1 unseen | global minimum | L | shape | point group | Thomson "
        "optimum | Tammes optimum |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for catalog in _by_m(catalogs, 3):
        n = catalog.model.n
        census = catalog.to_json().get("census") or {}
        sample = census.get("random_sample", {})
        verdicts = [p["verdict"] for p in catalog]
        lowest = _minima(catalog)[0]
        shape, group = _symmetry(lowest)
        thomson, tammes = THOMSON_TAMMES.get(n, ("–", "–"))
        closure = catalog.to_json().get("descent_closure")
        closed = ("not run" if closure is None else
                  f"{closure['new_points']} ({closure['descents']:,})")
        lines.append(
            f"| {n} | {sample.get('starts', 0):,} | {census.get('orbits', '–')} "
            f"({census.get('orbits_catalogued', '–')}) | {closed} | {verdicts.count('minimum')} | "
            f"{verdicts.count('saddle')} | {sample.get('unseen_estimate', 0):g} | "
            f"`{lowest['id']}` | {_loss(lowest['loss'])} | {shape} | {group} | {thomson} | "
            f"{tammes} |")
    return "\n".join(lines) + "\n"


def polytope_minima_markdown(catalogs: Iterable[Catalog]) -> str:
    """Every minimum per n (m = 3): id, loss, classification, shape, point group, span, λ."""
    out = []
    for catalog in _by_m(catalogs, 3):
        minima = _minima(catalog)
        out.append(f"**n = {catalog.model.n}, m = 3** ({len(minima)} minima)\n")
        out.append("| id | L | classification | shape | point group | span | origin | λ |")
        out.append("|---|---|---|---|---|---|---|---|")
        for p in minima:
            shape, group = _symmetry(p)
            span = (p.get("symmetry") or {}).get("span_dimension", "–")
            out.append(f"| `{p['id']}` | {_loss(p['loss'])} | {p['classification']} | {shape} | "
                       f"{group} | {span} | {p['origin']} | {_lambda(p)} |")
        out.append("")
    return "\n".join(out)


#: Index-1 saddles listed per n in docs/polytopes.md (the lowest ones).
INDEX1_ROWS = 6


def polytope_index1_markdown(catalogs: Iterable[Catalog]) -> str:
    """The lowest smooth index-1 saddles per n (m = 3) and how many there are, and the lowest
    non-smooth saddle (verdict saddle from a confirmed descent, no index) below them."""
    lines = ["| n | smooth index-1 saddles | id | L | shape | point group |",
             "|---|---|---|---|---|---|"]
    for catalog in _by_m(catalogs, 3):
        n = catalog.model.n
        saddles = sorted((p for p in catalog if p["hessian_index"] == 1
                          and p["classification"] == "saddle"),
                         key=lambda p: (p["loss"], p["id"]))
        rows = saddles[:INDEX1_ROWS]
        for i, p in enumerate(rows):
            shape, group = _symmetry(p)
            lines.append(f"| {n if i == 0 else ''} | {len(saddles) if i == 0 else ''} | "
                         f"`{p['id']}` | {_loss(p['loss'])} | {shape} | {group} |")
        top = rows[0]["loss"] if rows else 1.0
        rough = sorted((p for p in catalog if p["verdict"] == "saddle"
                        and p["classification"] == "non-smooth" and p["loss"] < top),
                       key=lambda p: (p["loss"], p["id"]))
        if rough:
            shape, group = _symmetry(rough[0])
            lines.append(f"| {'' if rows else n} | {'' if rows else 0} | `{rough[0]['id']}` "
                         f"(non-smooth, lowest saddle) | {_loss(rough[0]['loss'])} | {shape} | "
                         f"{group} |")
        elif not rows:
            lines.append(f"| {n} | 0 | – | – | – | – |")
    return "\n".join(lines) + "\n"


def embedded_polygons_markdown(catalogs: Iterable[Catalog]) -> str:
    """How the minima of m = 2 appear in m = 3: each m = 2 minimum of the pattern language with
    k ≥ 3 vertices and L < 1/3 (a planar polygon) with its classification, verdict, negative
    (one-sided) Hessian eigenvalues and zero modes in both catalogs of the same n."""
    lines = ["| n | id | L | m = 2: classification, verdict | m = 3: classification, verdict | "
             "negative eigenvalues m = 2 → 3 | zero modes explained / observed, m = 2 → 3 |",
             "|---|---|---|---|---|---|---|"]
    planar = {c.model.n: c for c in _by_m(catalogs, 2)}
    for catalog in _by_m(catalogs, 3):
        n = catalog.model.n
        if n not in planar:
            continue
        for p2 in _minima(planar[n]):
            if p2["origin"] != "pattern" or p2["k"] < 3 or p2["loss"] > 1 / 3 - 1e-9:
                continue
            p3 = catalog.get(p2["id"])
            if p3 is None:
                lines.append(f"| {n} | `{p2['id']}` | {_loss(p2['loss'], 6)} | "
                             f"{p2['classification']}, {p2['verdict']} | not in the m = 3 "
                             "catalog | | |")
                continue
            h2, h3 = p2["hessian"], p3["hessian"]
            lines.append(f"| {n} | `{p2['id']}` | {_loss(p2['loss'], 6)} | "
                         f"{p2['classification']}, {p2['verdict']} | {p3['classification']}, "
                         f"**{p3['verdict']}** | {h2['n_neg']} → {h3['n_neg']} | "
                         f"{h2['n_zero_symmetry']}/{h2['n_zero']} → "
                         f"{h3['n_zero_symmetry']}/{h3['n_zero']} |")
    return "\n".join(lines) + "\n"


def polytope_families_markdown(catalogs: Iterable[Catalog], families: dict) -> str:
    """The flat family through each minimum of m = 3 whose Hessian has more zero eigenvalues
    than the symmetry explains: its tangent-cone and family dimensions, from the shipped
    families files (``families[(n, m)]``, the ``critpoints.families`` documents written by
    ``critpoints family CATALOG --out``); an entry without a record says so."""
    lines = ["| n | id | L | shape | zero modes observed / explained | tangent dimension | "
             "family dimension |", "|---|---|---|---|---|---|---|"]
    for catalog in _by_m(catalogs, 3):
        n = catalog.model.n
        document = families.get((n, 3))
        records = {r["id"]: r for r in document["families"]} if document else {}
        for p in _minima(catalog):
            zero = p["evidence"]["zero_modes"]
            if zero["observed"] <= zero["explained"]:
                continue
            record = records.get(p["id"])
            shape, _ = _symmetry(p)
            shown = (["untested" if record[k] is None else str(record[k])
                      for k in ("tangent_dimension", "dimension")] if record is not None
                     else ["not measured"] * 2)
            lines.append(f"| {n} | `{p['id']}` | {_loss(p['loss'], 6)} | {shape} | "
                         f"{zero['observed']} / {zero['explained']} | {shown[0]} | "
                         f"**{shown[1]}** |")
    return "\n".join(lines) + "\n"


#: Generated sections: name → (function of the catalogs, which catalogs: ``census`` the m = 2
#: catalogs with a census record, ``all`` every m = 2 catalog, ``landscapes`` the landscape
#: graphs, ``hidden`` every catalog of any m, ``families`` every catalog of any m and the
#: families files beside them).
SECTIONS: dict[str, tuple[Callable[[list[Catalog]], str], str]] = {
    "census-statistics": (census_markdown, "census"),
    "minima": (minima_markdown, "census"),
    "global-minima": (global_minima_markdown, "all"),
    "landscape-summary": (landscape_markdown, "landscapes"),
    "polytope-census": (polytope_census_markdown, "hidden"),
    "polytope-minima": (polytope_minima_markdown, "hidden"),
    "polytope-index1": (polytope_index1_markdown, "hidden"),
    "embedded-polygons": (embedded_polygons_markdown, "hidden"),
    "polytope-families": (polytope_families_markdown, "families"),
}


def _markers(name: str) -> tuple[str, str]:
    return (f"<!-- BEGIN GENERATED {name} by `python -m critpoints docs --write`: do not edit -->",
            f"<!-- END GENERATED {name} -->")


def has_sections(text: str) -> bool:
    """Whether ``text`` has a generated section that :func:`update_sections` renders (one that
    needs the shipped catalogs, landscapes or families files loaded)."""
    return any(_markers(name)[0] in text for name in SECTIONS)


def update_sections(text: str, catalogs: list[Catalog], landscapes: list | None = None,
                    families: dict | None = None) -> str:
    """``text`` with every named generated section (:data:`SECTIONS`) it contains rewritten from
    the catalogs (those with a census record for the census sections), the landscape graphs
    and the families documents (by (n, m))."""
    for name, (render, which) in SECTIONS.items():
        begin, end = _markers(name)
        pattern = re.compile(re.escape(begin) + r"\n.*?" + re.escape(end), re.S)
        if not pattern.search(text):
            continue
        if which == "families":
            replacement = f"{begin}\n{render(list(catalogs), families or {})}{end}"
            text = pattern.sub(lambda _, new=replacement: new, text)
            continue
        if which == "landscapes":
            chosen = list(landscapes or [])
        elif which == "hidden":
            chosen = list(catalogs)
        else:
            chosen = [c for c in catalogs if c.model.m == 2
                      and (which == "all" or "census" in c.to_json())]
        replacement = f"{begin}\n{render(chosen)}{end}"
        text = pattern.sub(lambda _, new=replacement: new, text)
    return text
