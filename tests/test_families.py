"""The committed families files (``critpoints family CATALOG --all --out``): linked to the
current catalogs, covering what their selection names, their dimensions re-derived from the
stored measurements, reproduced by their stored command, and the command's bad input."""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path

import pytest

from critpoints.cli import main
from critpoints.solve.family import FIRST_ORDER, SCALE_AGREEMENT
from critpoints.store import file_sha256, load_document
from critpoints.tms.families import family_of_entry, selected_entries, unexplained_zero_modes

ROOT = Path(__file__).resolve().parents[1]
CATALOGS = ROOT / "catalog"
FILES = sorted(CATALOGS.glob("tms-n*-m*.families.json"))


def _pair(path: Path) -> tuple[dict, dict]:
    document = load_document(path, "critpoints.families")
    catalog = json.loads((CATALOGS / document["catalog"]["file"]).read_text("utf-8"))
    return document, catalog


def test_committed_families_files_exist():
    assert {p.name for p in FILES} >= {f"tms-n{n}-m3.families.json" for n in range(4, 9)}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_committed_families_are_linked_to_the_current_catalog(path):
    """The catalog named is the committed one, byte for byte (regenerate the families file
    whenever its catalog is regenerated), and each record repeats its entry's numbers."""
    document, catalog = _pair(path)
    assert document["catalog"]["sha256"] == file_sha256(CATALOGS / document["catalog"]["file"]), (
        f"{path.name} was made from another version of {document['catalog']['file']}: run "
        f"`{document['generator']['command']}`")
    assert document["catalog"]["entries"] == len(catalog["critical_points"])
    assert document["model"] == {k: catalog["model"][k] for k in ("kind", "n", "m")}
    entries = {e["id"]: e for e in catalog["critical_points"]}
    for record in document["families"]:
        entry = entries[record["id"]]
        assert record["loss"] == entry["loss"] and record["verdict"] == entry["verdict"]
        assert record["on_boundary"] == entry["on_boundary"]
        assert record["zero_modes"] == {k: entry["evidence"]["zero_modes"][k]
                                        for k in ("observed", "explained")}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_committed_families_cover_their_selection(path):
    document, catalog = _pair(path)
    selection = "all" if "--all" in shlex.split(document["generator"]["command"]) else "minima"
    ids = document["selection"]["ids"]
    expected = [e["id"] for e in selected_entries(catalog["critical_points"], selection, ids)]
    assert [r["id"] for r in document["families"]] == expected
    summary = document["summary"]
    dimensions = [r["dimension"] for r in document["families"]]
    assert summary["entries"] == len(dimensions)
    assert summary["isolated"] == dimensions.count(0)
    assert summary["untested"] == dimensions.count(None)
    assert summary["families"] == len(dimensions) - dimensions.count(0) - dimensions.count(None)


def _first_order(values: list[list[float]]) -> int:
    # the rule of critpoints.solve.family, applied to the stored (rounded) singular values
    count = 0
    for i in range(min(len(v) for v in values)):
        column = [v[i] for v in values]
        if not (min(column) > FIRST_ORDER and max(column) <= SCALE_AGREEMENT * min(column)):
            break
        count += 1
    return count


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_committed_family_dimensions_follow_from_their_stored_measurements(path):
    """The sampled k₁ is the first-order count of the stored singular values at the point; the
    sampled k is the largest (explained + k₁) over the point and the re-measured members, less
    the zero modes explained at the point, and k₁ ≤ k. The stored dimension is the sample's
    unless, where L is C² (not on an activation boundary), the sample exceeds the Hessian's
    unexplained zero modes (a bound: the tangent space of a smooth stratum through the point
    lies in the Hessian's kernel, and the kernel's dimension is upper semicontinuous); then it
    is untested, with the reason."""
    document, _ = _pair(path)
    assert document["families"]
    contradicted = 0
    for record in document["families"]:
        ident, at_point = record["id"], record["at_point"]
        assert record["explained_zero_modes"] == at_point["explained"] == (
            record["zero_modes"]["explained"]), ident
        if at_point["complement"]:  # untested when too few members returned for the count
            count, kept = _first_order(at_point["singular_values"]), min(at_point["members"])
            assert at_point["dimension"] == (None if kept < count + 3 else count), ident
        assert record["sampled_tangent_dimension"] == at_point["dimension"], ident
        bound = record["hessian_bound"]
        assert bound == (None if record["on_boundary"] else unexplained_zero_modes(
            {"evidence": {"zero_modes": record["zero_modes"]}})), ident
        sampled = record["sampled_dimension"]
        if sampled is None:
            assert record["dimension"] is None and not record["at_members"], ident
        else:
            totals = [m["explained"] + m["dimension"]
                      for m in (at_point, *record["at_members"]) if m["dimension"] is not None]
            assert sampled == max(totals) - at_point["explained"], ident
            assert record["sampled_tangent_dimension"] <= sampled, ident
        if sampled is not None and bound is not None and sampled > bound:
            contradicted += 1
            assert record["dimension"] is None and record["tangent_dimension"] is None, ident
            assert record["note"].startswith("untested: the sampled dimension"), ident
        else:
            assert record["note"] is None, ident
            assert (record["dimension"], record["tangent_dimension"]) == (
                sampled, record["sampled_tangent_dimension"]), ident
        assert record["isolated"] == (None if record["dimension"] is None
                                      else record["dimension"] == 0), ident
    assert document["summary"]["contradicted_by_hessian"] == contradicted


def test_families_command_reproduces_the_committed_bytes(tmp_path, monkeypatch):
    """n = 4, m = 3, every entry with unexplained zero modes, by the stored command."""
    committed = CATALOGS / "tms-n4-m3.families.json"
    command = shlex.split(json.loads(committed.read_text("utf-8"))["generator"]["command"])
    (tmp_path / "catalog").mkdir()
    shutil.copy(CATALOGS / "tms-n4-m3.json", tmp_path / "catalog" / "tms-n4-m3.json")
    monkeypatch.chdir(tmp_path)
    assert main([*command[3:], "--quiet", "--workers", "2"]) == 0
    assert (tmp_path / "catalog" / committed.name).read_bytes() == committed.read_bytes()


@pytest.mark.parametrize("ident", ["4", "3"])
def test_a_committed_n8_family_is_measured_again(ident):
    """Two n = 8, m = 3 records measured again from the catalog entry with the stored seed."""
    document, catalog = _pair(CATALOGS / "tms-n8-m3.families.json")
    entry = next(e for e in catalog["critical_points"] if e["id"] == ident)
    stored = next(r for r in document["families"] if r["id"] == ident)
    again = family_of_entry(entry, document["seed"])
    assert (again["dimension"], again["tangent_dimension"]) == (
        stored["dimension"], stored["tangent_dimension"])


@pytest.mark.parametrize(("arguments", "message"), [
    (["CATALOG", "--id", "4", "--all"], "exclude each other"),
    (["CATALOG", "--id", "nope"], "has no entry 'nope'"),
    (["LINEAR"], "not a TMS catalog"),
    (["MISSING"], "cannot read"),
    (["CATALOG", "--seed", "-1"], "seed"),
])
def test_family_command_rejects_bad_input(tmp_path, capsys, arguments, message):
    out = tmp_path / "keep.json"
    out.write_text("keep me", encoding="utf-8")
    names = {"CATALOG": CATALOGS / "tms-n4-m3.json",
             "LINEAR": CATALOGS / "linear-n6-m2-random-seed0.json",
             "MISSING": tmp_path / "missing.json"}
    arguments = [str(names.get(a, a)) for a in arguments]
    assert main(["family", *arguments, "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert out.read_text(encoding="utf-8") == "keep me"


def test_family_out_into_a_directory_is_refused_before_computing(tmp_path, capsys):
    assert main(["family", str(CATALOGS / "tms-n4-m3.json"), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "is a directory" in err and len(err.strip().splitlines()) == 1


# ----------------------------------------------------------------------------------------------
# Reading a families file back from Python: critpoints.families.Families


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_catalog_entry_gets_its_family_or_a_reason(path):
    """Families.family answers for every entry of the linked catalog: the stored record where
    one was measured, isolated (0, not measured) where the Hessian has no unexplained zero mode,
    and NotMeasuredError (naming the command) for the rest, which the selection left out."""
    from critpoints.families import Families, NotMeasuredError

    families = Families.load(path)
    document, catalog = _pair(path)
    assert len(families) == len(document["families"])
    records = {r["id"]: r for r in document["families"]}
    not_measured = 0
    for entry in catalog["critical_points"]:
        ident = entry["id"]
        if ident in records:
            family = families.family(ident)
            assert family.measured and family.record == records[ident]
            assert (family.dimension, family.tangent_dimension, family.note) == (
                records[ident]["dimension"], records[ident]["tangent_dimension"],
                records[ident]["note"])
            assert family.isolated == records[ident]["isolated"]
        elif unexplained_zero_modes(entry) == 0:
            family = families.family(ident)
            assert (family.dimension, family.measured, family.isolated) == (0, False, True)
        else:
            not_measured += 1
            with pytest.raises(NotMeasuredError, match=f"family .* --id {ident}"):
                families.family(ident)
    selection = "all" if "--all" in shlex.split(document["generator"]["command"]) else "minima"
    assert not_measured == (0 if selection == "all" else sum(
        unexplained_zero_modes(e) > 0 and e["verdict"] != "minimum"
        for e in catalog["critical_points"]))


def test_families_refuse_another_version_of_their_catalog(tmp_path):
    """A catalog whose bytes differ from those the document names (one byte changed, still a
    valid catalog) is refused with the command that regenerates the families file; an unknown
    id names the catalog."""
    from critpoints.catalog import UnknownEntryError
    from critpoints.documents import DocumentError
    from critpoints.families import Families

    families_file = tmp_path / "tms-n4-m3.families.json"
    shutil.copy(CATALOGS / families_file.name, families_file)
    catalog = json.loads((CATALOGS / "tms-n4-m3.json").read_text("utf-8"))
    catalog["generator"]["command"] += " "
    (tmp_path / "tms-n4-m3.json").write_text(json.dumps(catalog), encoding="utf-8")
    with pytest.raises(DocumentError, match=r"another version of tms-n4-m3\.json .*"
                       r"python -m critpoints family"):
        Families.load(families_file)
    shutil.copy(CATALOGS / "tms-n4-m3.json", tmp_path / "tms-n4-m3.json")
    families = Families.load(families_file)
    with pytest.raises(UnknownEntryError, match="no entry with id 'no-such'"):
        families.family("no-such")
    with pytest.raises(DocumentError, match=r"not-there\.json"):
        Families.load(families_file, tmp_path / "not-there.json")
    with pytest.raises(DocumentError):
        Families.load(CATALOGS / "tms-n4-m3.json")  # a catalog is not a families document


def test_families_of_a_selection_by_id_measure_only_those(tmp_path):
    """A document made with --id: the named entry is measured; another entry with unexplained
    zero modes is not measured (NotMeasuredError); one without them is isolated by its
    Hessian."""
    from critpoints.families import Families, NotMeasuredError

    catalog_file = tmp_path / "tms-n4-m3.json"
    shutil.copy(CATALOGS / catalog_file.name, catalog_file)
    entries = json.loads(catalog_file.read_text("utf-8"))["critical_points"]
    flat = [e["id"] for e in entries if unexplained_zero_modes(e) > 0]
    isolated = next(e["id"] for e in entries if unexplained_zero_modes(e) == 0)
    out = tmp_path / "tms-n4-m3.families.json"
    assert main(["family", str(catalog_file), "--id", flat[0], "--workers", "1", "--quiet",
                 "--out", str(out)]) == 0
    families = Families.load(out)
    assert [f.id for f in families] == [flat[0]] and families.family(flat[0]).measured
    with pytest.raises(NotMeasuredError, match=f"--id {flat[1]}"):
        families.family(flat[1])
    assert families.family(isolated).dimension == 0
    assert families.catalog.source == str(catalog_file)


def test_builtin_families_are_the_committed_files():
    from critpoints.families import Families

    families = Families.builtin(4, 3)
    document, _ = _pair(CATALOGS / "tms-n4-m3.families.json")
    for record in document["families"]:
        assert families.family(record["id"]).dimension == record["dimension"]
    assert families.catalog.model.n == 4 and len(families.catalog) == document["catalog"]["entries"]
    assert families.command == document["generator"]["command"]
