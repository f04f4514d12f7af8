"""The `cotlabel` Python package (src/python.rs) against known answers.

Run with the venv scripts/pywheel makes:  PY=$(./scripts/pywheel) && $PY -m pytest -q tests/py
"""

import json
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import cotlabel

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "static" / "demo"
DIM = len(cotlabel.SIGNATURE_FEATURES)
QUESTION = "Tom has 3 apples and buys 4 more, then doubles them. How many apples?"


def table(rows):
    return pa.Table.from_pylist(rows)


def cot_rows():
    """A group of four (three agree on 14, one says 16), a pair, a lone CoT."""
    good = "3 + 4 = 7\n7 * 2 = 14\nThe answer is 14."
    rows = [
        {"id": "g0", "question_id": "q1", "question": QUESTION, "cot": good},
        {"id": "g1", "question_id": "q1", "question": QUESTION, "cot": good},
        {"id": "g2", "question_id": "q1", "question": QUESTION,
         "cot": "3 + 4 = 7\n7 x 2 = 14\nSo he has 14 apples. The answer is 14."},
        {"id": "odd", "question_id": "q1", "question": QUESTION,
         "cot": "3 + 4 = 8\n8 * 2 = 16\nThe answer is 16."},
        {"id": "p0", "question_id": "q2", "question": QUESTION, "cot": good},
        {"id": "p1", "question_id": "q2", "question": QUESTION,
         "cot": "3 + 4 = 7\nThe answer is 7."},
        {"id": "lone", "question_id": "q3", "question": QUESTION, "cot": good},
    ]
    return rows


def demo():
    records = pa.Table.from_pylist(json.loads((DEMO / "demo_cots.json").read_text()))
    emb = np.load(DEMO / "demo_emb.npy")
    return records, emb


def test_extract_answers():
    got = cotlabel.extract_answers(
        ["First 3 + 4 = 7.\nThe answer is 14.", "#### 1,200", "", None, "So, yes."]
    )
    assert isinstance(got, pa.Array)
    assert got.to_pylist()[:4] == ["14", "1200", None, None]
    assert got.to_pylist()[4] == "yes"
    # a chunked column works too
    col = pa.chunked_array([["The answer is 5"], ["#### 6"]])
    assert cotlabel.extract_answers(col).to_pylist() == ["5", "6"]


def test_signatures_columns_and_lone_prior():
    sigs = cotlabel.signatures(table(cot_rows()))
    assert isinstance(sigs, pa.Table)
    assert sigs.column_names == [
        "id", "answer", "siblings", "fitted", "matches_reference",
        "label_free_prior", "vector",
    ]
    assert sigs.schema.field("vector").type == pa.list_(pa.float32(), DIM)
    assert sigs["id"].to_pylist() == [r["id"] for r in cot_rows()]
    assert sigs["answer"].to_pylist() == ["14", "14", "14", "16", "14", "7", "14"]
    assert sigs["siblings"].to_pylist() == ["many"] * 4 + ["one"] * 2 + ["none"]
    assert sigs["matches_reference"].to_pylist() == [None] * 7
    shifts = cotlabel.base_rate_shifts(sigs["siblings"], sigs["fitted"], sigs["label_free_prior"])
    assert isinstance(shifts, tuple) and len(shifts) == 2
    priors = cotlabel.finish_priors(sigs, shifts)
    assert priors.column_names == sigs.column_names + ["prior"]
    lone = priors.filter(pa.compute.equal(priors["id"], "lone"))["prior"][0].as_py()
    assert 0.0 < lone < 1.0


def test_the_odd_answer_has_the_lowest_prior():
    sigs = cotlabel.signatures(table(cot_rows()[:4]))
    shifts = cotlabel.base_rate_shifts(sigs["siblings"], sigs["fitted"], sigs["label_free_prior"])
    priors = cotlabel.finish_priors(sigs, shifts)["prior"].to_pylist()
    assert min(range(4), key=priors.__getitem__) == 3, priors


def test_reference_answers_decide():
    rows = cot_rows()[4:6]
    for r in rows:
        r["gold_answer"] = "14"
    sigs = cotlabel.signatures(table(rows))
    assert sigs["matches_reference"].to_pylist() == [True, False]
    p = cotlabel.finish_priors(sigs, (0.0, 0.0))["prior"].to_pylist()
    assert p[0] > 0.9 and p[1] < 0.1


def test_split_by_question_then_shifts_gives_the_whole_sets_priors():
    records, emb = demo()
    records = records.append_column(
        "embedding", pa.FixedSizeListArray.from_arrays(pa.array(emb.ravel()), emb.shape[1])
    )
    whole = cotlabel.signatures(records)
    # per question, in any order (as Ray's map_groups hands them out)
    parts = []
    for q in sorted(set(records["question_id"].to_pylist()), reverse=True):
        part = records.filter(pa.compute.equal(records["question_id"], q))
        parts.append(cotlabel.signatures(part))
    split = pa.concat_tables(parts)
    shifts = cotlabel.base_rate_shifts(
        split["siblings"], split["fitted"], split["label_free_prior"].to_numpy()
    )
    whole_shifts = cotlabel.base_rate_shifts(
        whole["siblings"].to_pylist(), whole["fitted"].to_pylist(),
        whole["label_free_prior"].to_pylist(),
    )
    assert shifts == whole_shifts
    by_id = dict(zip(split["id"].to_pylist(), cotlabel.finish_priors(split, shifts)["prior"].to_pylist()))
    expected = cotlabel.finish_priors(whole, whole_shifts)["prior"].to_pylist()
    assert [by_id[i] for i in whole["id"].to_pylist()] == expected
    # the embeddings matter (embedding consensus), and numpy gives what the column gives
    plain = records.drop_columns(["embedding"])
    from_numpy = cotlabel.signatures(plain, embeddings=emb)
    assert from_numpy["vector"].to_pylist() == whole["vector"].to_pylist()
    assert cotlabel.signatures(plain)["vector"].to_pylist() != whole["vector"].to_pylist()


def human_labels(records, n=2):
    """n human labels from is_correct: one good and one bad first."""
    rows = records.to_pylist()
    good = next(r for r in rows if r["is_correct"])
    bad = next(r for r in rows if not r["is_correct"])
    picked = [good, bad] + [r for r in rows if r not in (good, bad)][: n - 2]
    return pa.table({
        "id": [r["id"] for r in picked],
        "label": ["good" if r["is_correct"] else "bad" for r in picked],
    })


def test_label_keeps_human_labels_and_propagates_the_rest(tmp_path):
    records, emb = demo()
    humans = human_labels(records)
    out = cotlabel.label(records, embeddings=emb, labels=humans, min_confidence=0.6)
    assert out.column_names == ["id", "label", "provenance", "confidence", "from"]
    rows = out.to_pylist()
    by_id = {r["id"]: r for r in rows}
    for h in humans.to_pylist():
        assert by_id[h["id"]]["label"] == h["label"]
        assert by_id[h["id"]]["provenance"] == "human"
        assert by_id[h["id"]]["confidence"] == 1.0
    machine = [r for r in rows if r["provenance"] != "human"]
    assert len(machine) > 50
    assert all(r["provenance"] == "propagated" for r in machine)
    assert all(r["confidence"] >= 0.6 for r in machine)
    assert all(r["label"] in ("good", "bad") for r in machine)
    # record order
    order = {i: k for k, i in enumerate(records["id"].to_pylist())}
    assert [order[r["id"]] for r in rows] == sorted(order[r["id"]] for r in rows)
    # the label file says the same; read back as the labels argument, it is the same labels
    text = cotlabel.label_file(records, embeddings=emb, labels=humans, name="demo_cots.json")
    f = json.loads(text)
    assert f["format"] == "cotlabel.labels" and f["dataset"]["name"] == "demo_cots.json"
    assert [(l["id"], l["label"], l["confidence"]) for l in f["labels"]] == [
        (r["id"], r["label"], r["confidence"]) for r in rows
    ]
    path = tmp_path / "labels.json"
    path.write_text(text)
    again = cotlabel.label(records, embeddings=emb, labels=str(path))
    assert again["id"].to_pylist() == out["id"].to_pylist()


def test_partitions_match_the_rust_partitioning():
    records, emb = demo()
    group, means = cotlabel.question_means(records, embeddings=emb)
    assert len(group) == records.num_rows and means.shape[1] == emb.shape[1]
    assert np.allclose(np.linalg.norm(means, axis=1), 1.0, atol=1e-5)
    centres = cotlabel.fit_partitions(means, 3, 7)
    assert centres.shape == (3, emb.shape[1])
    part = cotlabel.assign_partitions(means, centres).to_numpy()
    assert set(part.tolist()) <= {0, 1, 2}
    out = cotlabel.label(records, embeddings=emb, labels=human_labels(records), partitions=3, seed=7)
    assert out.num_rows > 2


def test_bad_rows_raise_value_error_naming_row_and_field():
    rows = cot_rows()[:3]
    rows[1] = dict(rows[1], cot=None)
    with pytest.raises(ValueError, match=r"records row 2: missing required field `cot`"):
        cotlabel.signatures(table(rows))
    rows = [dict(r, is_correct=c) for r, c in zip(cot_rows()[:3], ["true", "no", "maybe"])]
    with pytest.raises(ValueError, match=r"records row 3: field `is_correct`"):
        cotlabel.signatures(table(rows))
    with pytest.raises(ValueError, match="duplicate id `g0`"):
        cotlabel.signatures(table(cot_rows()[:1] * 2))
    with pytest.raises(ValueError, match="embeddings: 2 rows"):
        cotlabel.signatures(table(cot_rows()[:3]), embeddings=np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match="labels"):
        cotlabel.label(table(cot_rows()), labels=pa.table({"id": ["g0"], "label": ["great"]}))
    with pytest.raises(ValueError, match="min_confidence"):
        cotlabel.label(table(cot_rows()), min_confidence=0.2)
    with pytest.raises(ValueError, match="unknown format"):
        cotlabel.export_rows(table(cot_rows()), pa.table({"id": ["g0"], "label": ["good"]}), "sft")


def test_export_rows_are_datasets_tables():
    datasets = pytest.importorskip("datasets")
    rows = cot_rows()
    labels = pa.table({
        "id": ["g0", "g1", "odd", "p0", "p1"],
        "label": ["good", "good", "bad", "good", "bad"],
    })
    sft = cotlabel.export_rows(table(rows), labels, "sft-messages")
    assert sft.num_rows == 3
    d = datasets.Dataset(sft)
    msgs = d[0]["messages"]
    assert [m["role"] for m in msgs] == ["user", "assistant"]
    assert msgs[0]["content"] == QUESTION
    dpo = cotlabel.export_rows(table(rows), labels, "dpo", human_only=True)
    d = datasets.Dataset(dpo)
    assert {"prompt", "chosen", "rejected"} <= set(d.column_names)
    assert d.num_rows == 3  # g0/g1 × odd, p0 × p1
    kto = cotlabel.export_rows(table(rows), labels, "kto")
    assert sorted(kto["label"].to_pylist()) == [False, False, True, True, True]
    for fmt in ["sft-prompt-completion", "dpo-conversational", "stepwise", "processbench"]:
        datasets.Dataset(cotlabel.export_rows(table(rows), labels, fmt))
