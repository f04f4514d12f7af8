"""Loads every training set tests/formats.rs exported (target/trainsets) as trainers do:
with `datasets.load_dataset`, then with TRL's own data utilities for its dataset type.

    python tests/py/check_trainsets.py target/trainsets

Fails (exit 1) on the first file that does not load, lacks the columns TRL requires for
its type, is (not) conversational when it should (not) be, or has the wrong row count.
"""
import json
import os
import sys

from datasets import load_dataset
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast
from trl.data_utils import (apply_chat_template, is_conversational, maybe_extract_prompt,
                            maybe_unpair_preference_dataset, unpair_preference_dataset)

d = sys.argv[1]
manifest = json.load(open(os.path.join(d, "manifest.json")))

# A real tokenizer with a chat template (built here: nothing is fetched from a hub), so TRL's
# apply_chat_template renders the conversational sets as its trainers do.
tok = Tokenizer(models.WordLevel({"[UNK]": 0}, unk_token="[UNK]"))
tok.pre_tokenizer = pre_tokenizers.Whitespace()
tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]")
tokenizer.chat_template = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}<|end|>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}")

REQUIRED = {
    "sft-messages": ["messages"],
    "sft-prompt-completion": ["prompt", "completion"],
    "dpo": ["prompt", "chosen", "rejected"],
    "dpo-conversational": ["prompt", "chosen", "rejected"],
    "kto": ["prompt", "completion", "label"],
    "stepwise": ["prompt", "completions", "labels"],
    "processbench": ["problem", "steps", "label"],
}
TRACE = {"sft-messages": ["id", "provenance", "confidence"],
         "sft-prompt-completion": ["id", "provenance", "confidence"],
         "kto": ["id", "provenance", "confidence"],
         "stepwise": ["id", "provenance", "confidence"],
         "processbench": ["id", "provenance", "confidence"],
         "dpo": ["chosen_id", "rejected_id", "chosen_confidence", "rejected_confidence"],
         "dpo-conversational": ["chosen_id", "rejected_id", "chosen_confidence", "rejected_confidence"]}

checked = 0
for name, m in sorted(manifest.items()):
    kind = "json" if name.endswith(".jsonl") else "parquet"
    ds = load_dataset(kind, data_files=os.path.join(d, name), split="train")
    fmt = m["format"]
    assert len(ds) == m["rows"], f"{name}: {len(ds)} rows, expected {m['rows']}"
    missing = [c for c in REQUIRED[fmt] + TRACE[fmt] if c not in ds.column_names]
    assert not missing, f"{name}: no column {missing} (has {ds.column_names})"
    ex = ds[0]
    assert is_conversational(ex) == m["conversational"], f"{name}: is_conversational is {is_conversational(ex)}"
    if fmt == "kto":
        assert isinstance(ex["label"], bool), f"{name}: label is {type(ex['label'])}"
        assert set(ds["label"]) == {True, False}, f"{name}: one kind of label only"
    if fmt == "stepwise":
        # TRL's stepwise supervision (PRMTrainer): a list of step texts and one bool per step,
        # true before the first wrong step and false from it on
        feats = ds.features
        assert feats["completions"].feature.dtype == "string", f"{name}: {feats['completions']}"
        assert feats["labels"].feature.dtype == "bool", f"{name}: {feats['labels']}"
        for row in ds:
            labels = row["labels"]
            assert len(labels) == len(row["completions"]) > 0, f"{name}: {row}"
            first = labels.index(False) if False in labels else len(labels)
            assert all(labels[:first]) and not any(labels[first:]), f"{name}: labels {labels}"
        assert sum(not all(r) for r in ds["labels"]) == m["wrong"], f"{name}: rows with a wrong step"
    if fmt == "processbench":
        assert ds.features["label"].dtype == "int64", f"{name}: label is {ds.features['label']}"
        for row in ds:
            assert -1 <= row["label"] < len(row["steps"]), f"{name}: {row}"
        assert sum(l >= 0 for l in ds["label"]) == m["wrong"], f"{name}: rows with a wrong step"
    if fmt.startswith("dpo"):
        # TRL turns preference pairs into unpaired (KTO) rows and extracts shared prompts
        kto = unpair_preference_dataset(ds)
        assert len(kto) == 2 * len(ds), f"{name}: unpaired {len(kto)}"
        assert len(maybe_unpair_preference_dataset(ds)) == 2 * len(ds)
        assert maybe_extract_prompt(ex)["prompt"] == ex["prompt"], f"{name}: maybe_extract_prompt changed the prompt"
    if m["conversational"]:
        # the chat template renders every row the way SFT / DPO trainers do
        for row in ds:
            out = apply_chat_template(row, tokenizer)
            text = out.get("text") or out.get("prompt")
            assert text and "<|user|>" in text, f"{name}: rendered {out}"
        if fmt == "sft-messages":
            roles = [t["role"] for t in ex["messages"]]
            assert roles[-1] == "assistant" and "user" in roles, f"{name}: roles {roles}"
    checked += 1
    print(f"ok  {name}: {len(ds)} rows, columns {ds.column_names}")

assert checked == len(manifest) and checked >= 14, f"only {checked} files checked"
print(f"all {checked} training sets load with datasets and pass TRL's checks")
