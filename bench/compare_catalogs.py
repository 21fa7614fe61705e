"""Compare two catalog files entry by entry: ids, losses, classifications (the identity the
speed work must keep), then every other field.

    python bench/compare_catalogs.py OLD.json NEW.json [OLD2.json NEW2.json ...]

Prints one line per pair: ``identical`` (the documents are equal apart from the generator
record), or what differs: ids missing on either side, and per common id the fields whose
values differ. Exit status 1 if any pair differs in ids, losses, classifications, verdicts or
learning coefficients.
"""

from __future__ import annotations

import json
import sys

#: The fields whose equality is the identity criterion (issue 17).
KEY_FIELDS = ("loss_exact", "classification", "verdict", "hessian_index",
              "learning_coefficient")


def compare(old_path: str, new_path: str) -> tuple[bool, str]:
    with open(old_path) as file:
        old = json.load(file)
    with open(new_path) as file:
        new = json.load(file)
    old_points = {p["id"]: p for p in old["critical_points"]}
    new_points = {p["id"]: p for p in new["critical_points"]}
    lines = []
    essential = True
    if list(old_points) != list(new_points):
        essential = False
        lines.append(f"  ids only in old: {sorted(set(old_points) - set(new_points))}")
        lines.append(f"  ids only in new: {sorted(set(new_points) - set(old_points))}")
    other_fields: dict[str, int] = {}
    for ident in old_points.keys() & new_points.keys():
        a, b = old_points[ident], new_points[ident]
        for key in a.keys() | b.keys():
            if a.get(key) == b.get(key):
                continue
            if key in KEY_FIELDS:
                essential = False
                lines.append(f"  {ident}: {key} {a.get(key)!r} -> {b.get(key)!r}")
            elif key == "evidence" and isinstance(a.get(key), dict) and isinstance(b.get(key),
                                                                                  dict):
                for part in a[key].keys() | b[key].keys():  # which evidence: probes, λ̂ runs…
                    if a[key].get(part) != b[key].get(part):
                        name = f"evidence.{part}"
                        other_fields[name] = other_fields.get(name, 0) + 1
            else:
                other_fields[key] = other_fields.get(key, 0) + 1
    for key, count in sorted(other_fields.items()):
        lines.append(f"  field {key} differs in {count} entries")
    for key in sorted((old.keys() | new.keys()) - {"critical_points", "generator"}):
        if old.get(key) != new.get(key):
            lines.append(f"  document field {key} differs")
    summary = (f"{len(new_points)} points: "
               + ("identical" if not lines else "ids/losses/classifications "
                  + ("identical" if essential else "DIFFER")))
    return essential, "\n".join([summary, *lines])


def main(paths: list[str]) -> int:
    if len(paths) < 2 or len(paths) % 2:
        print(__doc__)
        return 2
    status = 0
    for old_path, new_path in zip(paths[::2], paths[1::2]):
        essential, report = compare(old_path, new_path)
        print(f"{old_path} vs {new_path}: {report}")
        status |= not essential
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
