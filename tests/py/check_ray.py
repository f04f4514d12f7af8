"""The Ray example (examples/ray_pipeline.py, Ray's local mode, one CPU) against the CLI on
the same records, embeddings and human labels: the same labels (id, verdict, provenance,
confidence, sources), with the run times of both.

    python tests/py/check_ray.py DATA_DIR CLI OUT_DIR [--partitions K]

DATA_DIR holds cots.jsonl and cots.npy (examples/synth_cots.rs writes them); the human
labels are the truth of every 100th record.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("cli")
    ap.add_argument("out")
    ap.add_argument("--partitions", type=int, default=4)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    records, emb = f"{args.data}/cots.jsonl", f"{args.data}/cots.npy"
    truth = {}
    with open(records) as f:
        for line in f:
            r = json.loads(line)
            truth[r["id"]] = r["is_correct"]
    ids = list(truth)
    humans = f"{args.out}/humans.json"
    with open(humans, "w") as f:
        json.dump(
            {
                "format": "cotlabel.labels",
                "version": 1,
                "labels": [
                    {"id": i, "label": "good" if truth[i] else "bad", "provenance": "human"}
                    for i in ids[::100]
                ],
            },
            f,
        )

    t = time.perf_counter()
    cli_out = f"{args.out}/cli-labels.json"
    subprocess.run(
        [args.cli, "label", records, emb, "--labels", humans,
         "--partitions", str(args.partitions), "-o", cli_out, "-q"],
        check=True,
    )
    cli_s = time.perf_counter() - t
    with open(cli_out) as f:
        cli = json.load(f)["labels"]

    t = time.perf_counter()
    ray_dir = f"{args.out}/ray"
    env = dict(os.environ, RAY_AUTH_MODE="disabled")
    # Ray Data logs every stage at INFO: shown only when the example fails
    run = subprocess.run(
        [sys.executable, "examples/ray_pipeline.py", records, emb, humans, ray_dir,
         "--partitions", str(args.partitions)],
        env=env,
        capture_output=True,
        text=True,
    )
    if run.returncode != 0:
        sys.stderr.write(run.stdout[-5000:] + run.stderr[-20000:])
        raise SystemExit(f"examples/ray_pipeline.py failed with status {run.returncode}")
    ray_s = time.perf_counter() - t
    with open(f"{ray_dir}/labels.jsonl") as f:
        ray = [json.loads(line) for line in f]

    def key(rows):
        return [
            (r["id"], r["label"], r["provenance"], r.get("confidence"), sorted(r.get("from") or []))
            for r in rows
        ]

    assert len(cli) == len(ray), f"CLI {len(cli)} labels, Ray {len(ray)}"
    mismatched = [(a, b) for a, b in zip(key(cli), key(ray)) if a != b]
    assert not mismatched, f"{len(mismatched)} labels differ, first: {mismatched[:3]}"
    machine = [r for r in cli if r["provenance"] != "human"]
    right = sum((r["label"] == "good") == truth[r["id"]] for r in machine)
    with open(f"{ray_dir}/timing.json") as f:
        timing = json.load(f)
    print(
        f"Ray example = CLI on {len(ids)} CoTs, {args.partitions} partitions: {len(cli)} labels equal "
        f"({len(machine)} machine, accuracy {right / max(len(machine), 1):.3f}); "
        f"CLI {cli_s:.1f} s, Ray (local mode, 1 CPU) {ray_s:.1f} s; Ray's stages: {json.dumps(timing)}"
    )


if __name__ == "__main__":
    main()
