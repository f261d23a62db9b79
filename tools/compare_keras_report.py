"""Compare the two sides' results of tools/compare_keras.py and print the table (NumPy only).

Keras' results are the reference: for each row (a group of arrays: one output, or every
layer's weights after training) the table shows the largest absolute difference, the largest
difference relative to the largest magnitude of the reference array (a norm-wise relative
error that zeros and ReLU-dead outputs cannot blow up), the array where that is worst, the
tolerance, and PASS / FAIL. An array passes when ``max|a - b| <= atol + rtol * max|b|``;
NaN or inf in either side at different places fails.
"""
import dataclasses
import math

import numpy as np

from compare_keras_cases import tolerance


@dataclasses.dataclass
class Row:
    case: str
    check: str
    status: str                 # PASS, FAIL or ERROR
    max_abs: float = math.nan
    max_rel: float = math.nan
    worst: str = ""
    tol: str = ""
    note: str = ""


def array_difference(got, ref):
    """(max abs difference, largest |ref|), with non-finite values matched position by position."""
    got, ref = np.asarray(got, np.float64), np.asarray(ref, np.float64)
    finite = np.isfinite(ref)
    if not np.array_equal(finite, np.isfinite(got)) or not np.array_equal(
            got[~finite], ref[~finite], equal_nan=True):
        return math.inf, 0.0
    if not finite.any():
        return 0.0, 0.0
    return float(np.max(np.abs(got[finite] - ref[finite]))), float(np.max(np.abs(ref[finite])))


def _compare_row(case, group, items, got, ref):
    check, kind, row_name = group
    rtol, atol = tolerance(case, kind)
    name = row_name if check in ("inference", "training call") else f"{check}: {row_name}"
    row = Row(case["name"], name, "PASS", 0.0, 0.0, tol=f"{rtol:g} rel")
    for item in items:
        key = group + (item,)
        if key not in got:
            row.status, row.note = "FAIL", f"missing on the tested side: {item or row_name}"
            continue
        if got[key].shape != ref[key].shape:
            row.status = "FAIL"
            row.note = f"shape {got[key].shape} vs Keras {ref[key].shape} {item}".strip()
            continue
        diff, scale = array_difference(got[key], ref[key])
        rel = diff / scale if scale > 0 else (0.0 if diff == 0 else math.inf)
        if diff > atol + rtol * scale:
            row.status = "FAIL"
        if rel > row.max_rel:
            row.max_rel, row.worst = rel, item
        row.max_abs = max(row.max_abs, diff)
    return row


def compare_results(case, got, ref, skip=()):
    """Rows for every (check, kind, row) group that the reference side produced, in its
    order, then one FAIL row per group only the tested side produced (e.g. a history key
    Keras does not log), except those of the checks in ``skip`` (they raised on a side: an
    ERROR row says so)."""
    groups, extra = {}, {}
    for check, kind, row, item in ref:
        if check not in skip:
            groups.setdefault((check, kind, row), []).append(item)
    for check, kind, row, item in got:
        if check not in skip and (check, kind, row) not in groups:
            extra.setdefault((check, kind, row), []).append(item)
    rows = [_compare_row(case, group, items, got, ref) for group, items in groups.items()]
    for check, kind, row_name in extra:
        name = row_name if check in ("inference", "training call") else f"{check}: {row_name}"
        rows.append(Row(case["name"], name, "FAIL", note="only on the tested side, not in "
                                                         "the reference's results"))
    return rows


def compare_structure(case, got, ref):
    """Layer names in order, per-layer weight shapes and parameter counts: all exact."""
    notes = []
    for key in ("params", "trainable_params"):
        if got[key] != ref[key]:
            notes.append(f"{key} {got[key]:,} vs Keras {ref[key]:,}")
    names, ref_names = [l[0] for l in got["layers"]], [l[0] for l in ref["layers"]]
    if names != ref_names:
        notes.append(f"layers {names} vs Keras {ref_names}")
    else:
        for (name, cls, shapes), (_, ref_cls, ref_shapes) in zip(got["layers"], ref["layers"]):
            if shapes != ref_shapes:
                notes.append(f"{name} ({cls}) weights {shapes} vs Keras ({ref_cls}) {ref_shapes}")
    note = "; ".join(notes) if notes else (f"{ref['params']:,} params, "
                                           f"{len(ref['layers'])} layers")
    return Row(case["name"], "structure", "FAIL" if notes else "PASS", note=note, tol="exact")


def error_rows(case, side, report):
    """One ERROR row per check that raised on ``side``, with the error's last line."""
    return [Row(case["name"], check, "ERROR", note=f"{side}: {text.strip().splitlines()[-1]}")
            for check, text in report["errors"].items()]


def compare_case(case, tested, reference, names=("fastcnn", "keras")):
    """All rows of one case from the two sides' ``(results, report)`` (None: did not run)."""
    if tested is None:
        return [Row(case["name"], "build", "ERROR", note=f"{names[0]}: no result")]
    rows = error_rows(case, names[0], tested[1])
    if "build" in tested[1]["errors"]:
        return rows
    if reference is None:
        return rows + [Row(case["name"], "build", "ERROR", note=f"{names[1]}: no result")]
    rows += error_rows(case, names[1], reference[1])
    if "build" in reference[1]["errors"]:
        return rows
    skip = set(tested[1]["errors"]) | set(reference[1]["errors"])
    return ([compare_structure(case, tested[1]["structure"], reference[1]["structure"])]
            + compare_results(case, tested[0], reference[0], skip) + rows)


def _number(value):
    return "" if value is None or math.isnan(value) else f"{value:.2e}"


def format_table(rows):
    """The table as text: one line per row, errors' notes cut to keep lines readable."""
    head = ("case", "check", "max abs", "max rel", "tol", "result", "worst / note")
    lines = [(r.case, r.check, _number(r.max_abs), _number(r.max_rel), r.tol, r.status,
              " ".join(p for p in (r.worst, r.note) if p)[:110]) for r in rows]
    widths = [max(len(str(x[i])) for x in [head] + lines) for i in range(len(head) - 1)]
    out = []
    for i, line in enumerate([head] + lines):
        out.append("  ".join(str(c).ljust(w) for c, w in zip(line, widths)) + "  " + line[-1])
        if i == 0:
            out.append("-" * min(160, sum(widths) + 2 * len(widths) + 20))
    return "\n".join(out)


def summary(rows):
    counts = {status: sum(r.status == status for r in rows) for status in ("PASS", "FAIL",
                                                                           "ERROR")}
    cases = {r.case for r in rows}
    clean = {c for c in cases if all(r.status == "PASS" for r in rows if r.case == c)}
    return (f"{counts['PASS']} rows passed, {counts['FAIL']} failed, {counts['ERROR']} errors; "
            f"cases clean: {len(clean)} of {len(cases)}")
