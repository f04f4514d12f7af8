"""Writes the Parquet and JSONL fixtures of tests/formats.rs with the real writers people use:
pyarrow (every codec, nested list<struct> columns, many row groups) and Hugging Face
`datasets` (to_parquet, to_json). Also the malformed files the import must refuse.

    python tests/py/make_fixtures.py target/pyfixtures

A manifest.json beside them says, per file, how many records it holds and what row 1 is.
"""
import json
import os
import sys

import datasets
import pyarrow as pa
import pyarrow.parquet as pq

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
manifest = {}

SYSTEM = "Solve the problem step by step. End with 'The answer is N.'"


def problems():
    """12 questions x 4 CoTs: 3 sound, 1 with an arithmetic slip."""
    rows = []
    for q in range(12):
        a, b, c = 3 + q, 7 + 2 * q, 2 + q % 3
        question = f"Sam has {a} boxes with {b} pens each and gives away {c} pens. How many pens are left?"
        right = a * b - c
        for k in range(4):
            wrong = k == 3
            total = a * b + (1 if wrong else 0)
            left = total - c
            cot = (f"Sam has {a} * {b} = {total} pens. "
                   f"After giving away {c}, {total} - {c} = {left} pens are left. The answer is {left}.")
            rows.append(dict(qid=f"q{q}", question=question, cot=cot, answer=str(left),
                             gold=str(right), ok=not wrong, k=k))
    return rows


P = problems()


def chat(r):
    return [{"role": "system", "content": SYSTEM},
            {"role": "user", "content": r["question"]},
            {"role": "assistant", "content": r["cot"]}]


def write(name, table, codec="snappy", row_group_size=None):
    pq.write_table(table, os.path.join(out, name), compression=codec,
                   row_group_size=row_group_size)


def expect(name, rows, question=None, cot=None, **extra):
    manifest[name] = dict(rows=rows, question=question, cot=cot, **extra)


chat_table = pa.table({
    "messages": [chat(r) for r in P],
    "question_id": [r["qid"] for r in P],
    "is_correct": [r["ok"] for r in P],
})
for codec in ["snappy", "zstd", "gzip", "none", "lz4"]:
    write(f"chat-{codec}.parquet", chat_table, codec=codec, row_group_size=7)
    expect(f"chat-{codec}.parquet", len(P), P[0]["question"], P[0]["cot"], shape="messages", row_groups=7)

write("sharegpt.parquet", pa.table({
    "conversations": [[{"from": "system", "value": SYSTEM}, {"from": "human", "value": r["question"]},
                       {"from": "gpt", "value": r["cot"]}] for r in P]}))
expect("sharegpt.parquet", len(P), P[0]["question"], P[0]["cot"], shape="conversations")

write("alpaca.parquet", pa.table({
    "instruction": [r["question"] for r in P], "input": ["" for r in P], "output": [r["cot"] for r in P]}))
expect("alpaca.parquet", len(P), P[0]["question"], P[0]["cot"], shape="alpaca")

write("prompt-completion.parquet", pa.table({
    "prompt": [r["question"] for r in P], "completion": [r["cot"] for r in P]}))
expect("prompt-completion.parquet", len(P), P[0]["question"], P[0]["cot"], shape="prompt/completion")

write("prompt-completion-conversational.parquet", pa.table({
    "prompt": [[{"role": "user", "content": r["question"]}] for r in P],
    "completion": [[{"role": "assistant", "content": r["cot"]}] for r in P]}))
expect("prompt-completion-conversational.parquet", len(P), P[0]["question"], P[0]["cot"])

think = [f"<think>\n{r['cot']}\n</think>\n\nSo the answer is \\boxed{{{r['answer']}}}." for r in P]
write("think.parquet", pa.table({
    "messages": [[{"role": "user", "content": r["question"]}, {"role": "assistant", "content": t}]
                 for r, t in zip(P, think)]}))
expect("think.parquet", len(P), P[0]["question"], P[0]["cot"], answer=P[0]["answer"])

write("mapped.parquet", pa.table({
    "problem_id": [r["qid"] for r in P], "problem": [r["question"] for r in P],
    "generated_solution": [r["cot"] for r in P], "expected_answer": [r["gold"] for r in P],
    "correct": [r["ok"] for r in P]}))
expect("mapped.parquet", len(P), P[0]["question"], P[0]["cot"], needs_mapping=True,
       reference=P[0]["gold"])

write("embedding.parquet", pa.table({
    "question": [r["question"] for r in P], "cot": [r["cot"] for r in P],
    "embedding": pa.array([[float(i), 1.0, 0.5] for i in range(len(P))], type=pa.list_(pa.float32()))}))
expect("embedding.parquet", len(P), P[0]["question"], P[0]["cot"], embedding_dim=3)

# Hugging Face datasets' own writers.
ds = datasets.Dataset.from_list([{"messages": chat(r), "question_id": r["qid"]} for r in P])
ds.to_parquet(os.path.join(out, "datasets-chat.parquet"))
expect("datasets-chat.parquet", len(P), P[0]["question"], P[0]["cot"], shape="messages")
ds.to_json(os.path.join(out, "datasets-chat.jsonl"))
expect("datasets-chat.jsonl", len(P), P[0]["question"], P[0]["cot"], shape="messages")

# 50k rows for the page's speed test (tests/e2e): the shape of the 50k JSONL test, in
# row groups of 10k, and a label file (as a script would write it: no fingerprint, no
# confidence) marking every record sound.
N = 50_000
big = pa.table({
    "id": [f"big-{i}" for i in range(N)],
    "question_id": [f"q{i // 4}" for i in range(N)],
    "question": [f"Question {i // 4}: a shop sells {i % 97} apples at ${i % 13} each. How much money does it make?"
                 for i in range(N)],
    "cot": [f"The shop sells {i % 97} apples.\nEach costs ${i % 13}.\nSo it makes {i % 97} * {i % 13} = "
            f"{(i % 97) * (i % 13)} dollars." for i in range(N)],
})
write("big-50k.parquet", big, codec="zstd", row_group_size=10_000)
json.dump({"format": "cotlabel.labels", "version": 1, "dataset": {"name": "big-50k.parquet", "records": N},
           "labels": [{"id": f"big-{i}", "label": "good", "provenance": "human"} for i in range(N)]},
          open(os.path.join(out, "big-50k-labels.json"), "w"))
manifest["big-50k.parquet"] = dict(rows=N, question=big["question"][0].as_py(), cot=big["cot"][0].as_py())

# Malformed files: each must be refused with the file and the row named.
good = open(os.path.join(out, "chat-snappy.parquet"), "rb").read()
open(os.path.join(out, "bad-truncated.parquet"), "wb").write(good[: len(good) // 2])
manifest["bad-truncated.parquet"] = dict(error="Parquet")
write("bad-wrong-type.parquet", pa.table({"question": ["q1", "q2", "q3"], "cot": ["c1", "c2", "c3"],
                                          "is_correct": ["yes", "no", "perhaps"]}))
manifest["bad-wrong-type.parquet"] = dict(error="row 3: field `is_correct`")
write("bad-no-assistant.parquet", pa.table({
    "messages": [chat(P[0]), [{"role": "user", "content": "only a question"}]]}))
manifest["bad-no-assistant.parquet"] = dict(error="row 2: field `messages` has no assistant turn")
write("bad-empty.parquet", pa.table({"question": pa.array([], pa.string()), "cot": pa.array([], pa.string())}))
manifest["bad-empty.parquet"] = dict(error="empty")

json.dump(manifest, open(os.path.join(out, "manifest.json"), "w"), indent=1)
print(f"wrote {len(manifest)} fixtures to {out} (pyarrow {pa.__version__}, datasets {datasets.__version__})")
