"""Real texts (and intent labels) from ../shared/data for the analysis study and benchmark,
embedded with the workbench encoder (``workbench.embed``, vectors cached on disk, so only the
first run pays for embedding).

Run ``python benchmarks/realtexts.py`` to embed everything once (prints counts and time).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _rows(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def labelled(name: str) -> tuple[list[str], list[str]]:
    """(texts, intent labels) of ``banking77`` (train + test, 13,083 queries, 77 intents) or
    ``clinc150`` (in-scope train + val + test, 22,500 queries, 150 intents)."""
    if name == "banking77":
        files = ["banking77/banking77_train.jsonl", "banking77/banking77_test.jsonl"]
    elif name == "clinc150":
        files = [f"clinc150/clinc150_{s}.jsonl" for s in ("train", "val", "test")]
    else:
        raise ValueError(name)
    texts, labels = [], []
    for f in files:
        for r in _rows(SHARED / f):
            texts.append(r["text"])
            labels.append(r["label"])
    return texts, labels


def items() -> list[tuple[str, str, str]]:
    """Every real example as (prompt, response, kind), in a fixed order: ``intent`` (Banking77
    and CLINC150 queries; response = the intent label, as in a classifier fine-tune), ``oos``
    (CLINC150 out-of-scope queries, response "out_of_scope"), ``instruction`` (Dolly open_qa and
    Self-Instruct: human-written instruction and response) and ``sentence`` (PAWS-Wiki sentences,
    no response)."""
    out: list[tuple[str, str, str]] = []
    for name in ("banking77", "clinc150"):
        texts, labels = labelled(name)
        out.extend((t, lab, "intent") for t, lab in zip(texts, labels))
    for f in ("clinc150/clinc150_oos_train.jsonl", "clinc150/clinc150_oos_val.jsonl",
              "clinc150/clinc150_oos_test.jsonl"):
        out.extend((r["text"], "out_of_scope", "oos") for r in _rows(SHARED / f))
    for r in _rows(SHARED / "dolly15k_open_qa/dolly_open_qa_alpaca.jsonl"):
        out.append((r["instruction"], r["output"], "instruction"))
    for f in ("self_instruct/self_instruct_seed_alpaca.jsonl",
              "self_instruct/self_instruct_user_oriented_alpaca.jsonl"):
        for r in _rows(SHARED / f):
            prompt = r["instruction"] + ("\n" + r["input"] if r.get("input") else "")
            out.append((prompt, r["output"], "instruction"))
    for f in ("paws_wiki/paws_wiki_dev.jsonl", "paws_wiki/paws_wiki_test.jsonl"):
        for r in _rows(SHARED / f):
            out.extend([(r["sentence1"], "", "sentence"), (r["sentence2"], "", "sentence")])
    return out


def all_texts() -> list[str]:
    """Every distinct real text (prompts and responses) of :func:`items`."""
    out: dict[str, None] = {}
    for prompt, response, _ in items():
        out[prompt] = None
        out[response] = None
    out.pop("", None)
    return list(out)


def embed(texts: list[str], *, progress=None) -> np.ndarray:
    """Vectors of ``texts`` with the default workbench encoder (cached on disk)."""
    from workbench.embed import embed_texts, get_encoder

    encoder = get_encoder()
    vecs, _ = embed_texts(texts, encoder, progress=progress)
    return vecs


if __name__ == "__main__":
    t0 = time.perf_counter()
    texts = all_texts()
    vecs = embed(texts)
    print(f"{len(texts):,} distinct real texts, vectors {vecs.shape}, {time.perf_counter() - t0:.1f} s")
