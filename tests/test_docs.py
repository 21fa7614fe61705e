"""The documentation runs as written and its generated parts are current."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SKIP_MARKER = "# docs-test: skip"


def bash_blocks(markdown: str) -> list[str]:
    """The fenced ```bash blocks of a Markdown page, without those carrying SKIP_MARKER."""
    blocks = re.findall(r"^```bash\n(.*?)^```", markdown, flags=re.S | re.M)
    return [b for b in blocks if SKIP_MARKER not in b]


def test_guide_has_runnable_blocks():
    blocks = bash_blocks((ROOT / "docs/guide.md").read_text(encoding="utf-8"))
    assert len(blocks) >= 4


@pytest.mark.parametrize("index", range(len(bash_blocks(
    (ROOT / "docs/guide.md").read_text(encoding="utf-8")))))
def test_guide_block_runs(index, tmp_path):
    pytest.importorskip("matplotlib")
    block = bash_blocks((ROOT / "docs/guide.md").read_text(encoding="utf-8"))[index]
    # A temporary copy of the data and pages: the commands cannot touch committed files.
    for name in ("catalog", "docs"):
        shutil.copytree(ROOT / name, tmp_path / name)
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    # `python` is this interpreter, started by its own path: a symlink to sys.executable would
    # not find a virtual environment's pyvenv.cfg (Python looks for it beside the path it was
    # started by) and would run the base interpreter without the environment's packages.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "python"
    wrapper.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} "$@"\n', encoding="utf-8")
    wrapper.chmod(0o755)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{block}\n{result.stdout}\n{result.stderr}"


def test_potential_page_is_current():
    from critpoints.tms.report import update_document

    text = (ROOT / "docs/potential.md").read_text(encoding="utf-8")
    assert update_document(text) == text, "run `python -m critpoints docs --write`"


def test_sparsity_page_is_current():
    from critpoints.tms.sparse_report import update_document

    text = (ROOT / "docs/sparsity.md").read_text(encoding="utf-8")
    assert update_document(text) == text, "run `python -m critpoints docs --write`"


def test_sparsity_page_states_the_limit_and_the_one_hot_blocks():
    """The generated table says the |A| = 1 blocks equal P and Q in every region (sympy)."""
    from critpoints.tms.sparse_report import one_hot_agreement

    assert all(same for _, _, same in one_hot_agreement())
    text = (ROOT / "docs/sparsity.md").read_text(encoding="utf-8")
    assert "| P | equal | equal | equal | equal |" in text
    assert "| Q | equal | equal | equal | equal |" in text


def test_docs_command_detects_stale_page(tmp_path, capsys):
    from critpoints.cli import main
    from critpoints.tms.report import BEGIN_MARKER, END_MARKER

    page = tmp_path / "potential.md"
    page.write_text(f"intro\n{BEGIN_MARKER}\nold\n{END_MARKER}\noutro\n", encoding="utf-8")
    assert main(["docs", "--file", str(page)]) == 1
    assert main(["docs", "--write", "--file", str(page)]) == 0
    assert main(["docs", "--file", str(page)]) == 0
    text = page.read_text(encoding="utf-8")
    assert text.startswith("intro\n") and text.endswith("outro\n")
    # The kink at W_i = 0 = b_i and the -2/a Hessian jump of Q (derived by hand in SPEC §2).
    assert "jumps by $-1$" in text and r"- \frac{2}{a}" in text
    page.write_text("no markers\n", encoding="utf-8")
    assert main(["docs", "--file", str(page)]) == 2


@pytest.mark.parametrize("body, message", [
    ("{begin}\nold\n", "has no END marker"),  # a page cut short
    ("{begin}\nold\n{begin}\nold\n{end}\n", "has no END marker before line 4"),
    ("old\n{end}\n", "without its BEGIN"),
    ("<!-- BEGIN GENERATED minima by `x`: do not edit -->\nold\n"
     "<!-- END GENERATED census-statistics -->\n", "without its BEGIN"),
])
def test_docs_command_refuses_unbalanced_markers(tmp_path, capsys, body, message):
    """A generated section without its END marker (or an END without its BEGIN) is refused
    in one line; it passed as "up to date" before."""
    from critpoints.cli import main
    from critpoints.tms.report import BEGIN_MARKER, END_MARKER

    page = tmp_path / "page.md"
    page.write_text("intro\n" + body.format(begin=BEGIN_MARKER, end=END_MARKER),
                    encoding="utf-8")
    before = page.read_bytes()
    assert main(["docs", "--file", str(page)]) == 2
    assert main(["docs", "--write", "--file", str(page)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert all(message in line for line in err) and len(err) == 2, err
    assert page.read_bytes() == before


def test_boundary_jumps_only_q_at_mu_one():
    """P is C² across every boundary; Q's Hessian jumps by −2/a where a + c = 0."""
    import sympy as sp

    from critpoints.tms.report import boundary_jumps
    from critpoints.tms.symbolic import a

    for description, jumps in boundary_jumps("P"):
        assert all(v == 0 for v in jumps.values()), description
    for description, jumps in boundary_jumps("Q"):
        assert jumps[""] == 0 and jumps["_a"] == 0 and jumps["_c"] == 0
        expected = -2 / a if "a + c = 0" in description else 0
        assert all(sp.simplify(jumps[s] - expected) == 0 for s in ("_aa", "_ac", "_cc"))


def test_links_and_images_exist():
    for page in sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]:
        text = page.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)#\s]+)\)", text):
            if target.startswith("http"):
                continue
            assert (page.parent / target).exists(), f"{page.name}: broken link {target}"


def test_catalog_tables_in_the_docs_are_current():
    """The census statistics and minima (docs/landscape.md), the m = 3 tables
    (docs/polytopes.md, the families from the shipped families files) and the global minima
    (README) are what the shipped catalogs give."""
    from critpoints.cli.docs import (
        builtin_catalogs,
        builtin_families,
        builtin_landscapes,
        updated_text,
    )

    catalogs = builtin_catalogs()
    landscapes = builtin_landscapes()
    families = builtin_families()
    for page in ("docs/landscape.md", "docs/polytopes.md", "README.md"):
        text = (ROOT / page).read_text(encoding="utf-8")
        assert updated_text(text, catalogs, landscapes, families) == text, (
            f"{page}: run `python -m critpoints docs --write`")
