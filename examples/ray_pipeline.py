"""cotlabel on Ray Data: signatures, priors, labels and an SFT training set.

The stages of `cotlabel label` / `cotlabel export`, spread over a Ray cluster (here: local
mode, one CPU) with the `cotlabel` Python package (build it with ``scripts/pywheel``):

1. Read the records (JSONL) and their embeddings (.npy, one row per record) on the driver,
   keep each record's row number, and hand them to Ray as one Arrow table.
2. **Signatures, per question.** ``cotlabel.signatures`` reads only the CoTs of each
   question (answer agreement, shared values, embedding consensus), so any split by
   question gives the same values as the whole set. Many tiny groups are slow in Ray, so
   records are grouped by a hash *bucket* of ``question_id`` (a bucket holds whole
   questions) and each bucket runs in ``map_groups``.
3. **Base-rate shifts, gathered.** The one step that needs every CoT: the label-free
   priors of lone CoTs and pairs are moved to the data set's own base rate, estimated from
   all of them (``cotlabel.base_rate_shifts``: three numbers per CoT to the driver).
4. **Priors**, per block: ``cotlabel.finish_priors`` in ``map_batches``.
5. **Partitions.** ``--partitions 1`` labels the whole set as one graph (the CLI's result);
   with more, questions are split by k-means over their mean embeddings
   (``cotlabel.question_means``, ``cotlabel.fit_partitions``, ``cotlabel.assign_partitions``:
   the functions the CLI runs) and each partition is labelled on its own.
6. **Labels**, per partition: ``cotlabel.label`` in ``map_groups`` (the function
   ``cotlabel label`` runs: signatures, the graph, propagation from the human labels).
7. Write the labels (JSONL, one row per label) and an SFT training set (Parquet,
   ``cotlabel.export_rows``).

Run (local mode, no dashboard)::

    RAY_AUTH_MODE=disabled .cache/pywheel-venv/bin/python examples/ray_pipeline.py \\
        records.jsonl embeddings.npy human_labels.json out/ --partitions 1

Outputs in ``out/``: ``priors.parquet`` (id, answer, siblings, prior, …), ``labels.jsonl``,
``sft.parquet`` and ``timing.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import zlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson
import pyarrow.parquet as pq

import cotlabel

BUCKETS = 16


def bucket_of(question_ids: pa.Array, buckets: int) -> pa.Array:
    """A stable hash bucket per question (crc32, the same in every process)."""
    return pa.array(
        [zlib.crc32(q.encode()) % buckets for q in question_ids.to_pylist()],
        type=pa.int32(),
    )


def read_inputs(records_path: str, embeddings_path: str) -> pa.Table:
    """Records with their row number, question key and embedding as one Arrow table."""
    records = pajson.read_json(records_path)
    emb = np.load(embeddings_path).astype(np.float32, copy=False)
    if emb.ndim != 2 or emb.shape[0] != records.num_rows:
        raise ValueError(
            f"{embeddings_path}: {emb.shape} embeddings for {records.num_rows} records"
        )
    # as cotlabel groups: question_id, else the question's text
    if "question_id" in records.column_names:
        key = pc.coalesce(records["question_id"], records["question"])
    else:
        key = records["question"]
    vectors = pa.FixedSizeListArray.from_arrays(pa.array(emb.ravel()), emb.shape[1])
    return (
        records.append_column("_row", pa.array(np.arange(records.num_rows)))
        .append_column("_bucket", bucket_of(key.combine_chunks(), BUCKETS))
        .append_column("embedding", vectors)
    )


INPUT = ("_row", "_bucket", "embedding")


def signatures_of_bucket(group: pa.Table) -> pa.Table:
    """Step 2: the signatures of one bucket of whole questions, beside its records."""
    group = group.sort_by("_row")
    records = group.drop_columns([c for c in INPUT if c != "embedding"])
    sigs = cotlabel.signatures(records)
    keep = group.select(["_row", "id"])
    for name in sigs.column_names[1:]:
        keep = keep.append_column(name, sigs[name])
    return keep


def label_partition(group: pa.Table, human_labels: str, shifts) -> pa.Table:
    """Step 6: one partition's labels (records in file order, as the CLI reads them), each
    CoT with the prior it has in the whole (the whole's base-rate shifts)."""
    group = group.sort_by("_row")
    records = group.drop_columns(["_row", "_bucket", "_partition"])
    return cotlabel.label(records, labels=human_labels, shifts=shifts)


def partitions_of(table: pa.Table, k: int, seed: int) -> pa.Array:
    """Step 5: a partition per record: k-means over the questions' mean embeddings (unit
    length, questions in order of first appearance), as ``cotlabel label --partitions``."""
    if k <= 1:
        return pa.array(np.zeros(table.num_rows, dtype=np.int32))
    group, means = cotlabel.question_means(table.drop_columns(["_row", "_bucket"]))
    centroids = cotlabel.fit_partitions(means, k, seed)
    per_question = cotlabel.assign_partitions(means, centroids).to_numpy()
    return pa.array(per_question[group.to_numpy()].astype(np.int32))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("records", help="records, JSONL (contract §1)")
    ap.add_argument("embeddings", help=".npy, one float row per record")
    ap.add_argument("labels", help="a label file with the human labels (contract §2)")
    ap.add_argument("out", help="output directory")
    ap.add_argument("--partitions", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")

    import ray

    t0 = time.perf_counter()
    # Ray's servers listen on the node's address; the tests run this under
    # scripts/loopback-only, where that address is 127.0.0.1
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    timing = {"ray_init_s": time.perf_counter() - t0}

    t = time.perf_counter()
    table = read_inputs(args.records, args.embeddings)
    ds = ray.data.from_arrow(table)

    # 2. signatures per bucket of questions
    sigs = ds.groupby("_bucket").map_groups(signatures_of_bucket, batch_format="pyarrow")
    sigs = sigs.materialize()
    timing["signatures_s"] = time.perf_counter() - t

    # 3. the gathering step: three numbers per CoT
    t = time.perf_counter()
    gathered = pa.concat_tables(
        sigs.select_columns(["siblings", "fitted", "label_free_prior"]).iter_batches(
            batch_format="pyarrow"
        )
    )
    shifts = cotlabel.base_rate_shifts(
        gathered["siblings"], gathered["fitted"], gathered["label_free_prior"]
    )

    # 4. priors per block
    priors = sigs.map_batches(
        lambda b: cotlabel.finish_priors(b, shifts), batch_format="pyarrow"
    )
    prior_table = pa.concat_tables(priors.iter_batches(batch_format="pyarrow")).sort_by("_row")
    pq.write_table(prior_table.drop_columns(["_row", "vector"]), f"{args.out}/priors.parquet")
    timing["priors_s"] = time.perf_counter() - t

    # 5. partitions, 6. labels per partition
    t = time.perf_counter()
    parts = partitions_of(table, args.partitions, args.seed)
    labelled = ray.data.from_arrow(table.append_column("_partition", parts))
    labels = labelled.groupby("_partition").map_groups(
        label_partition,
        fn_args=(os.path.abspath(args.labels), shifts),
        batch_format="pyarrow",
    )
    label_table = pa.concat_tables(labels.iter_batches(batch_format="pyarrow"))
    # back to record order, as the label file lists them
    order = {i: k for k, i in enumerate(table["id"].to_pylist())}
    label_table = label_table.take(
        pa.array(sorted(range(label_table.num_rows),
                        key=lambda k: order[label_table["id"][k].as_py()]))
    )
    with open(f"{args.out}/labels.jsonl", "w") as f:
        for row in label_table.to_pylist():
            f.write(json.dumps(row) + "\n")
    timing["labels_s"] = time.perf_counter() - t

    # 7. an SFT training set from the records and the labels
    t = time.perf_counter()
    records = table.drop_columns(list(INPUT))
    sft = cotlabel.export_rows(
        records,
        label_table.select(["id", "label", "provenance", "confidence"]),
        "sft-messages",
    )
    pq.write_table(sft, f"{args.out}/sft.parquet")
    timing["export_s"] = time.perf_counter() - t
    timing["total_s"] = time.perf_counter() - t0
    timing.update(
        records=table.num_rows,
        labels=label_table.num_rows,
        sft_rows=sft.num_rows,
        shifts=list(shifts),
        partitions=args.partitions,
    )
    with open(f"{args.out}/timing.json", "w") as f:
        json.dump(timing, f, indent=2)
    print(json.dumps(timing))
    ray.shutdown()


if __name__ == "__main__":
    main()
