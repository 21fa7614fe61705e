"""``critpoints docs``: check or regenerate the generated sections of the documentation: the
sympy derivations in docs/potential.md and docs/sparsity.md, and the tables the catalogs give
(census statistics and minima in docs/landscape.md, the global minimum per n in README.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from critpoints.cli import UsageError
from critpoints.cli.options import path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "docs",
        help="check (or with --write regenerate) the generated sections of the docs",
        description="Render the region formulas of the TMS building blocks P and Q and their "
        "boundary jumps from the sympy derivation (docs/potential.md), the cube-integral rules "
        "of the finite-sparsity potential (docs/sparsity.md), and the tables of the "
        "shipped catalogs (census statistics and minima in docs/landscape.md, global minima in "
        "README.md); compare them with the generated sections (exit 1 if one is stale), or "
        "rewrite them.",
    )
    parser.add_argument("--write", action="store_true", help="rewrite the generated sections")
    parser.add_argument("--file", type=path, action="append", default=None,
                        help="a page to check or rewrite (repeatable; default "
                        f"{', '.join(str(p) for p in PAGES)})")
    parser.set_defaults(func=run)


#: The pages with generated sections.
PAGES = (Path("docs/potential.md"), Path("docs/sparsity.md"), Path("docs/landscape.md"),
         Path("docs/polytopes.md"), Path("README.md"))

#: Hidden dimensions other than 2 whose shipped catalogs the docs tabulate.
HIDDEN_DIMENSIONS = (3,)


def builtin_catalogs() -> list:
    """The shipped TMS catalogs: m = 2 from n = 2 on (n = 1 has no polygon), then those of
    :data:`HIDDEN_DIMENSIONS`, each by n."""
    from critpoints.catalog import Catalog
    from critpoints.store import builtin_feature_counts

    catalogs = [Catalog.builtin(n) for n in builtin_feature_counts(2) if n >= 2]
    for m in HIDDEN_DIMENSIONS:
        catalogs += [Catalog.builtin(n, m) for n in builtin_feature_counts(m)]
    return catalogs


def updated_text(text: str, catalogs, landscapes=None, families=None) -> str:
    """``text`` with its generated sections rewritten; ValueError if it has none."""
    from critpoints.census.report import update_sections
    from critpoints.kgon import branches_report
    from critpoints.tms import sparse_report
    from critpoints.tms.report import BEGIN_MARKER, update_document

    result = update_document(text) if BEGIN_MARKER in text else text
    if sparse_report.BEGIN_MARKER in result:
        result = sparse_report.update_document(result)
    result = update_sections(result, catalogs, landscapes, families)
    result = _update_sparsity_sections(result, branches_report)
    if result == text and "<!-- BEGIN GENERATED" not in text:
        raise ValueError("no generated section (no BEGIN GENERATED marker)")
    return result


def _update_sparsity_sections(text: str, report) -> str:
    """The sections of :data:`critpoints.kgon.branches_report.SECTIONS` rewritten from the
    shipped files."""
    import re

    from critpoints.store import builtin_path, load_document

    for section, (filename, kind, render) in report.SECTIONS.items():
        begin, end = report.markers(section)
        pattern = re.compile(re.escape(begin) + r"\n.*?" + re.escape(end), re.S)
        if not pattern.search(text):
            continue
        replacement = f"{begin}\n{render(load_document(builtin_path(filename), kind))}{end}"
        text = pattern.sub(lambda _, new=replacement: new, text)
    return text


def builtin_landscapes() -> list:
    """The landscape graphs shipped beside the catalogs (n = 2..12, those that exist)."""
    from critpoints.documents import DocumentError
    from critpoints.landscape_store import read_landscape_json
    from critpoints.store import builtin_path

    graphs = []
    for n in range(2, 13):
        try:
            graphs.append(read_landscape_json(builtin_path(f"tms-n{n}-m2.landscape.json")))
        except DocumentError:
            continue
    return graphs


def builtin_families() -> dict:
    """The families files shipped beside the catalogs (``critpoints family --out``), by (n, m)."""
    from critpoints.documents import FAMILIES, DocumentError
    from critpoints.store import builtin_path, load_document

    found = {}
    for m in (2, *HIDDEN_DIMENSIONS):
        for n in range(1, 13):
            try:
                found[(n, m)] = load_document(builtin_path(f"tms-n{n}-m{m}.families.json"),
                                              FAMILIES)
            except DocumentError:
                continue
    return found


def run(args: argparse.Namespace) -> int:
    from critpoints.census.report import has_sections
    from critpoints.io import write_text_atomic

    pages = args.file or PAGES
    for page in pages:
        if not page.is_file():
            reason = "is a directory" if page.is_dir() else "no such file"
            raise UsageError(f"{page}: {reason}")
    texts = {}
    for page in pages:
        try:
            texts[page] = page.read_text(encoding="utf-8")
        except ValueError as exc:  # not UTF-8 text
            raise UsageError(f"{page}: {exc}") from None
        except OSError as exc:
            raise UsageError(f"{page}: cannot read: {exc.strerror or exc}") from None
    # Loading (and validating) every shipped catalog takes ~10 s: only for pages that tabulate them.
    catalogs, landscapes, families = [], [], {}
    if any(has_sections(text) for text in texts.values()):
        catalogs = builtin_catalogs()
        landscapes, families = builtin_landscapes(), builtin_families()
    stale = 0
    for page in pages:
        try:
            current = texts[page]
            updated = updated_text(current, catalogs, landscapes, families)
            if args.write:
                if updated != current:
                    write_text_atomic(page, updated)
                print(f"wrote {page}" if updated != current else f"{page} is up to date")
                continue
        except ValueError as exc:  # no generated section, or not UTF-8 text
            raise UsageError(f"{page}: {exc}") from None
        except OSError as exc:
            raise UsageError(f"{page}: cannot read or write: {exc.strerror or exc}") from None
        if updated != current:
            print(f"{page} differs from what the derivation and the catalogs give: run "
                  "`python -m critpoints docs --write`", file=sys.stderr)
            stale += 1
        else:
            print(f"{page} is up to date")
    return 1 if stale else 0
