"""Tables of the shipped sparsity files for ``docs/sparsity.md``: the n = 6 branches
(``catalog/tms-n6-m2.sparsity.json``) and the phase line along S
(``catalog/tms-n6-m2.phase-line.json``). Text only; ``python -m critpoints docs --write``
rewrites the sections between their markers and ``python -m critpoints docs`` checks them."""

from __future__ import annotations

__all__ = ["SECTIONS", "branches_markdown", "limits_markdown", "markers", "phase_line_markdown"]

#: S values of the branch table's loss columns (grid points of every branch).
_COLUMNS = (0.9, 0.683772233983, 0.43765867481, 0.0)


def markers(name: str) -> tuple[str, str]:
    return (f"<!-- BEGIN GENERATED {name} by `python -m critpoints docs --write`: do not edit -->",
            f"<!-- END GENERATED {name} -->")


def _at(branch: dict, S: float) -> str:
    for point in branch["points"]:
        if abs(point["sparsity"] - S) <= 1e-12:
            return f"{point['loss']:.6f} ({point['index']})"
    return "–"


def branches_markdown(document: dict) -> str:
    """Summary and one row per followed branch of a sparsity-branches document."""
    from collections import Counter

    branches = document["branches"]
    ends = Counter(b["end"]["kind"] for b in branches)
    command = document["generator"]["command"]
    collapsed = sum(1 for b in branches if _collapsed(b))
    flat = [b["start"]["flat_set"] for b in branches if b["start"].get("flat_set")]
    lines = [
        f"`catalog/tms-n{document['model']['n']}-m{document['model']['m']}.sparsity.json`: "
        f"{len(branches)} of the catalog's {document['catalog']['entries']} entries "
        + ("(the command's `--ids`)" if " --ids " in command else "(all)")
        + f"; {ends.get('no-branch', 0)} without a branch (a positive bias on a nonzero "
        f"column), {ends.get('reached', 0)} reach S = 0, {ends.get('fold', 0)} end at a fold, "
        f"{ends.get('corrector-failed', 0)} where the corrector fails; "
        f"{sum(1 for b in branches for e in b['events'] if e['kind'] == 'arclength')} stretches "
        "that natural continuation could not step over were followed by pseudo-arclength "
        "(no fold there). At the start, "
        f"{collapsed} have dead vertices collapsed to zero columns and "
        f"{sum(f['accepted'] for f in flat)} of {len(flat)} start where Levenberg–Marquardt "
        f"lands inside their one-hot critical set. Written by `{command}`.",
        "",
        "| branch | start | one-hot L | index at S = 0.999 | index changes (S, interpolated) | "
        "biases through 0 (S bracket) | end | L_S (index) at S = 0.9 | at S = 0.684 | "
        "at S = 0.438 | at S = 0 |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for branch in branches:
        if not branch["points"]:
            continue
        changes = "; ".join(
            f"{e['index'][0]}→{e['index'][1]} at {max(e['crossing'], 0.0):.3f}"
            if e["crossing"] is not None else f"{e['index'][0]}→{e['index'][1]}"
            for e in branch["events"] if e["kind"] == "index-change") or "–"
        crossings = [e for e in branch["events"] if e["kind"] == "boundary-crossing"
                     and e["biases_through_zero"]]
        biases = "; ".join(f"{len(e['biases_through_zero'])} in ({e['between'][1]:.3f}, "
                           f"{e['between'][0]:.3f})" for e in crossings) or "–"
        end = branch["end"]
        ending = ("reaches S = 0" if end["kind"] == "reached"
                  else f"{end['kind']} at S = {end['sparsity']:.3f}")
        passages = [e for e in branch["events"] if e["kind"] == "arclength"]
        if passages:
            ending += " (by arclength past " + ", ".join(
                f"{e['between'][0]:.3f}" for e in passages) + ")"
        fold = branch.get("fold")
        if fold is not None:
            ending = _fold(fold)
        lines.append(f"| `{branch['id']}` | {_start(branch)} | {branch['one_hot_loss']:.6f} | "
                     f"{branch['points'][0]['index']} | {changes} | {biases} | {ending} | "
                     + " | ".join(_at(branch, S) for S in _COLUMNS) + " |")
    return "\n".join(lines) + "\n"


def _fold(fold: dict) -> str:
    """Where a branch turns, and what it becomes beyond: the partner branch it is, or how far
    the far side was followed back towards S = 1."""
    text = f"fold at S = {fold['sparsity']:.6f} (L_S = {fold['loss']:.6f})"
    if not fold["passed"]:
        return text + "; not passed: " + fold["reason"]
    beyond = fold["beyond"]
    text += f"; beyond it index {fold['index_beyond']}"
    if fold["partner"] is not None:
        return text + (f", the branch of `{fold['partner']['id']}` "
                       f"({fold['partner']['grid_points']} grid points)")
    last = beyond["points"][-1]["sparsity"] if beyond["points"] else fold["sparsity"]
    reach = ("back to S = 0.999" if beyond["end"]["kind"] == "reached"
             else f"back to S = {last:.3f} ({beyond['end']['kind']})")
    return text + f", no followed branch's, followed {reach}"


def _collapsed(branch: dict) -> list[int]:
    return [c["column"] for c in branch["start"].get("changed", [])
            if c.get("quantity") == "norm"]


def _start(branch: dict) -> str:
    """How the branch starts at S = 0.999: θ̃ (–), a dead vertex collapsed, a flat-set move."""
    parts = [f"column {j} collapsed" for j in _collapsed(branch)]
    slide = branch["start"].get("flat_set")
    if slide is not None and slide["accepted"]:
        parts.append(f"moved {slide['moved']:.3f} in its flat set")
    return "; ".join(parts) or "–"


def phase_line_markdown(document: dict) -> str:
    """The intervals, boundaries, discovered minima and checks of a phase-line document."""
    completeness = document["completeness"]
    labels = {d["id"]: d["label"] for d in document["discovered"]}

    def name(ident):
        if ident is None:
            return "no followed minimum"
        return f"`{ident}` ({labels[ident]})" if ident in labels else f"`{ident}`"

    lines = [f"Written by `{document['command']}` from `{document['branches']['file']}`.", "",
             "| S from | S to | lowest minimum |", "|---|---|---|"]
    for interval in document["intervals"]:
        lines.append(f"| {interval['from']:.10f} | {interval['to']:.10f} | "
                     f"{name(interval['id'])} |")
    lines += ["", "| boundary S | 1 − S | sparse side → dense side | kind | L there (sparse, "
              "dense) | other branches checked / lower | certified bracket of S |",
              "|---|---|---|---|---|---|---|"]
    for b in document["boundaries"]:
        kind = b["kind"] + (f" ({b['unstable']} changes index)" if b["unstable"] else "")
        losses = ", ".join("–" if v is None else f"{v:.10f}"
                           for v in (b["loss_sparse"], b["loss_dense"]))
        lines.append(f"| {b['sparsity']:.10f} | {b['density']:.3e} | {name(b['sparse'])} → "
                     f"{name(b['dense'])} | {kind} | {losses} | {b['checked_branches']} / "
                     f"{len(b['lower_elsewhere'])} | {_bracket(b.get('certificate'))} |")
    if document["discovered"]:
        lines += ["", "Minima found by the multi-start below the followed branches, each "
                  "followed in S both ways:", "",
                  "| id | label | found at S | by | L there | followed over S | ends |",
                  "|---|---|---|---|---|---|---|"]
        for d in document["discovered"]:
            found = min(d["points"], key=lambda q: abs(q["sparsity"] - d["found_at"]))
            lines.append(f"| `{d['id']}` | {d['label']} | {d['found_at']:.6g} | "
                         f"{d.get('found_by', 'discovery')} | {found['loss']:.10f} | "
                         f"{d['points'][0]['sparsity']:.4g} .. "
                         f"{d['points'][-1]['sparsity']:.4g} | {d['sparse_end']['kind']}, "
                         f"{d['end']['kind']} |")
    lines += ["", f"Completeness: {completeness['followed_branches']} branches followed "
              f"(with the discovered ones), {len(completeness['not_followed'])} catalog entries "
              f"not in the branches file, {len(completeness['no_branch'])} without a branch; "
              f"grid sparsities where a followed saddle is below every followed minimum: "
              f"{len(completeness['saddles_below_every_minimum'])}; independent multi-start "
              f"(seed + 1, {completeness['multistart_starts']} starts at "
              f"{completeness['multistart_points']} sparsities between the grid points): "
              f"{completeness['multistart_violations']} with a lower minimum than the line."]
    rounds = completeness.get("check_rounds") or []
    if len(rounds) > 1:
        lines[-1] += (" Check rounds (a lower minimum found by a check is followed and the "
                      "line rebuilt, then checked with a new seed): "
                      + "; ".join(f"seed {r['seed']}: {r['violations']} lower"
                                  + (f", followed {', '.join(r['adopted'])}"
                                     if r["adopted"] else "") for r in rounds)
                      + "; the table is the last round's.")
    same = completeness.get("same_branch_as") or {}
    if same:
        lines[-1] += (f" {len(same)} followed entries continue to the same branch as an "
                      "earlier one and enter the line once: "
                      + ", ".join(f"`{a}` = `{b}`" for a, b in same.items()) + ".")
    if completeness["checks"]:
        lines += ["", "| check S | multi-start best | line | line's point | lower? |",
                  "|---|---|---|---|---|"]
        for c in completeness["checks"]:
            best = "–" if c["best_loss"] is None else f"{c['best_loss']:.10f}"
            line = "–" if c["line_loss"] is None else f"{c['line_loss']:.10f}"
            lines.append(f"| {c['sparsity']:.6g} | {best} | {line} | {name(c['line_id'])} | "
                         f"{'**yes**' if c['violation'] else 'no'} |")
    return "\n".join(lines) + "\n"


def _bracket(certificate: dict | None) -> str:
    if certificate is None:
        return "–"
    values = certificate["loss_gaps"] or certificate["smallest_eigenvalues"]
    what = "L_dense − L_sparse" if certificate["loss_gaps"] else "smallest eigenvalue"
    if not certificate["certified"]:
        return f"not certified ({certificate['dps']} digits)"
    return (f"[{certificate['lower']:.12f}, {certificate['upper']:.12f}]: {what} "
            f"{float(values[0]):.2e} → {float(values[1]):.2e} at {certificate['dps']} digits")


def limits_markdown(document: dict) -> str:
    """Summary, the constrained minima and the limits with a positive multiplier and L̃ < 0.1
    of a limits document."""
    search, summary = document["search"], document["summary"]
    lines = [
        f"`{document['generator']['command']}`: {search['starts']} face searches "
        f"({search['random_starts_per_face_size']} random starts per face size, "
        f"{search['catalog_points']} catalogued points with perturbed copies, the ends of "
        f"{search['descents']} bounded descents), {search['feasible']} feasible ends; "
        f"**{summary['limits']} limits** with L̃ ≤ 1/3: {summary['minimum']} minima, "
        f"{summary['saddle']} saddles, {summary['undecided']} undecided on b ≤ 0, "
        f"{summary['unrefined']} not refined; Chao1 estimate of limits the random starts have "
        f"not reached: {search['chao1_unseen']:g}.",
        "",
        "| id | L̃ | face (b_j = 0) | multipliers −∂⁺L̃/∂b_j | on the face | on b ≤ 0 | "
        "catalogued critical set |",
        "|---|---|---|---|---|---|---|",
    ]
    for point in document["limits"]:
        if point["verdict"] != "minimum" and not (point["strict_face"]
                                                  and point["loss"] < 0.1):
            continue
        multipliers = ", ".join(f"{v:.6g}" for v in point["multipliers"]) or "–"
        ids = ", ".join(f"`{i}`" for i in point["catalog_ids"]) or "–"
        lines.append(f"| {point['id']} | {point['loss']:.10f} | {point['face'] or '–'} | "
                     f"{multipliers} | {point['face_classification']}, "
                     f"{point['face_verdict']} | **{point['verdict']}** | {ids} |")
    return "\n".join(lines) + "\n"


#: Generated section name → (shipped file, document kind, renderer); the files are read by
#: ``critpoints docs`` (this module does no I/O).
SECTIONS = {
    "sparsity-branches": ("tms-n6-m2.sparsity.json", "critpoints.sparsity-branches",
                          branches_markdown),
    "sparsity-phase-line": ("tms-n6-m2.phase-line.json", "critpoints.phase-line",
                            phase_line_markdown),
    "sparsity-limits": ("tms-n6-m2.limits.json", "critpoints.limits", limits_markdown),
}
