"""The agreement numbers of `cotlabel agreement` and the files of `cotlabel merge`, checked
against the reference implementations: scikit-learn's `cohen_kappa_score` for every pair of
annotators and the PyPI `krippendorff` package's nominal alpha, to 1e-9.

    python tests/py/check_agreement.py CLI OUTDIR [DATA]

- random label sets: 2–5 annotators, each missing 35 % of the records, with error rates of
  their own (one of them writes no `annotator`: the file's name stands for it);
- a real one: two simulated annotators with error rates 10 % and 25 % against `is_correct`
  over the GSM8K test split (DATA/gsm8k_cots.jsonl; under CI=true it must be there);
- `cotlabel merge`: the consensus is the strict majority, ties are left unlabelled under
  `conflicts`, every vote is kept, and the merged file's agreement equals the separate files'.
"""
import json
import os
import random
import subprocess
import sys

import krippendorff
import numpy as np
from sklearn.metrics import cohen_kappa_score

cli, out = sys.argv[1], sys.argv[2]
data = sys.argv[3] if len(sys.argv) > 3 else "../shared/data"
os.makedirs(out, exist_ok=True)
TOL = 1e-9
worst = [0.0]  # the largest difference from a reference seen


def near(x, ref):
    worst[0] = max(worst[0], abs(x - ref))
    return abs(x - ref) < TOL


def write_labels(path, annotator, labels):
    """A label file as one annotator's browser writes it (`labels`: id -> 0/1)."""
    entries = []
    for rid, v in labels.items():
        e = {"id": rid, "label": "good" if v else "bad", "provenance": "human",
             "confidence": 1.0, "updated_at": "2026-12-07T10:00:00Z"}
        if annotator is not None:
            e["annotator"] = annotator
        entries.append(e)
    with open(path, "w") as f:
        json.dump({"format": "cotlabel.labels", "version": 1,
                   "dataset": {"name": "sim", "records": 0, "fingerprint": ""},
                   "labels": entries, "pairs": []}, f)


def cotlabel(*args):
    r = subprocess.run([cli, "--quiet", *args], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"cotlabel {' '.join(args)} failed ({r.returncode}): {r.stderr}")
    return r.stdout


def same(a, b):
    """Equal, numbers to 1e-12 (the records come in another order: sums round otherwise)."""
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) < 1e-12
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def check(name, ids, votes):
    """`votes`: annotator -> {id: 0/1}. Writes one file per annotator (the first without a
    name), runs `cotlabel agreement` and compares every number with the references."""
    paths = []
    for k, (who, labels) in enumerate(votes.items()):
        path = os.path.join(out, f"{name}-{who}.json")
        write_labels(path, None if k == 0 else who, labels)
        paths.append(path)
    # the unnamed file's labels count as the file's name
    names = [f"{name}-{who}" if k == 0 else who for k, who in enumerate(votes)]
    report = json.loads(cotlabel("agreement", *paths, "--json"))
    assert report["annotators"] == sorted(names), (report["annotators"], names)
    col = {n: votes[who] for n, who in zip(names, votes)}
    for p in report["pairs"]:
        a, b = col[p["a"]], col[p["b"]]
        both = [i for i in ids if i in a and i in b]
        assert p["n"] == len(both), (p, len(both))
        ref = cohen_kappa_score([a[i] for i in both], [b[i] for i in both])
        assert near(p["cohen_kappa"], ref), (name, p, ref)
    table = np.array([[col[n].get(i, np.nan) for i in ids] for n in report["annotators"]],
                     dtype=float)
    ref = krippendorff.alpha(reliability_data=table, level_of_measurement="nominal")
    assert near(report["krippendorff_alpha"], ref), (name, report["krippendorff_alpha"], ref)
    pairs = ", ".join(f"{p['a']}–{p['b']} κ {p['cohen_kappa']:.4f} (n {p['n']})"
                      for p in report["pairs"])
    print(f"{name}: α {report['krippendorff_alpha']:.6f} = krippendorff {ref:.6f}; {pairs}")

    # merge: every vote kept, the strict majority as the label, ties under `conflicts`
    merged_path = os.path.join(out, f"{name}-merged.json")
    cotlabel("merge", *paths, "-o", merged_path)
    merged = json.load(open(merged_path))
    labels = {e["id"]: e for e in merged["labels"]}
    conflicts = {c["id"]: c for c in merged.get("conflicts", [])}
    for i in ids:
        given = [col[n][i] for n in col if i in col[n]]
        if not given:
            assert i not in labels and i not in conflicts, i
            continue
        good = sum(given)
        entry = labels.get(i) or conflicts.get(i)
        assert len(entry["votes"]) == len(given), (i, entry)
        if 2 * good == len(given):
            assert i in conflicts and i not in labels, (i, given)
        else:
            assert labels[i]["label"] == ("good" if 2 * good > len(given) else "bad"), i
            assert labels[i]["provenance"] == "human" and "annotator" not in labels[i]
    again = json.loads(cotlabel("agreement", merged_path, "--json"))
    assert same(again, report), "the merged file's agreement differs from the separate files'"
    print(f"  merged: {len(labels)} consensus labels, {len(conflicts)} conflicts; "
          "its agreement equals the separate files'")
    return report


rng = random.Random(2026)
for s in range(6):
    n_annotators = 2 + s % 4
    ids = [f"r{i:04d}" for i in range(300)]
    truth = {i: rng.random() < 0.6 for i in ids}
    votes = {}
    for k in range(n_annotators):
        err = rng.uniform(0.05, 0.35)
        votes[f"ann{k}"] = {i: int(truth[i] != (rng.random() < err))
                            for i in ids if rng.random() > 0.35}
    check(f"random{s}", ids, votes)

path = os.path.join(data, "gsm8k_cots.jsonl")
if os.path.exists(path):
    rows = [json.loads(line) for line in open(path)]
    test = [r for r in rows if r["split"] == "test"]
    ids = [r["id"] for r in test]
    rng = random.Random(7)
    votes = {who: {r["id"]: int(bool(r["is_correct"]) != (rng.random() < err)) for r in test}
             for who, err in (("careful", 0.10), ("hasty", 0.25))}
    report = check("gsm8k-test", ids, votes)
    # with independent errors, the two agree on (1 − e1)(1 − e2) + e1·e2 = 0.7 of the CoTs
    agree = report["pairs"][0]["agreement"]
    print(f"  gsm8k test split: {len(ids)} CoTs, observed agreement {agree:.3f} "
          f"(expected 0.70 from the error rates)")
    assert abs(agree - 0.70) < 0.05, agree
elif os.environ.get("CI") == "true":
    sys.exit(f"{path} is missing under CI=true")
else:
    print(f"SKIP: the GSM8K check needs {path}")
print(f"agreement: every κ and α equal to scikit-learn and krippendorff "
      f"(largest difference {worst[0]:.1e})")
