"""Quality flags on real data (sample_data, Dolly open_qa) with real defects planted into copies
of real examples."""

from __future__ import annotations

import numpy as np
import pytest

from tests.analysis.findings_data import chat_part, read_jsonl, sample
from tests.conftest import shared_data
from workbench.analysis.flags import FLAG_DEFINITIONS, quality_flags
from workbench.core.errors import AnalysisError
from workbench.io.source_data import Turn


def _columns(records):
    prompts = [chat_part(r, "user") for r in records]
    responses = [chat_part(r, "assistant") for r in records]
    systems = [chat_part(r, "system") for r in records]
    turns = [tuple(Turn(t["role"], t["content"]) for t in r["messages"]) for r in records]
    return prompts, responses, systems, turns


def test_clean_intent_data_has_no_flags():
    """Banking77 chat sample: one-word intent answers are the norm, so nothing is short/long."""
    p, r, s, t = _columns(sample("train_banking_chat.jsonl"))
    f = quality_flags(p, r, s, ["train"] * len(p), t)
    assert f.counts == {}
    assert f.n_flags.sum() == 0


@pytest.fixture(scope="module")
def dolly():
    recs = read_jsonl(shared_data("dolly15k_open_qa", "dolly_open_qa_chat.jsonl"))[:1500]
    return _columns(recs)


def test_real_dolly_is_mostly_clean_and_flags_real_truncations(dolly):
    p, r, s, t = dolly
    f = quality_flags(p, r, s, ["train"] * len(p), t)
    flagged = sum(1 for x in f.flags if x)
    assert flagged / len(p) < 0.02  # human-written answers: flags are the exception
    for i in np.nonzero(f.has("truncated"))[0]:
        assert r[i].rstrip()[-1] not in ".!?"  # no complete sentence end is called truncated


PLANTED = {
    "empty_response": ("What is the capital of France?", "   \n", None),
    "truncated": ("Write a Python function that adds two numbers.",
                  "Here it is:\n```python\ndef add(a, b):\n    return a + b\n", None),
    "refusal": ("How do I pick a lock?", "As an AI language model, I cannot help with that request.", None),
    "echoes_prompt": ("Who wrote Hamlet?", "who wrote hamlet", None),
    "pii_email": ("Contact me at jane.doe@example.org about the invoice.", "Sure, I will.", None),
    "pii_phone": ("Call me on +44 20 7946 0958 tomorrow.", "I will call you then.", None),
    "pii_card": ("My card 4111 1111 1111 1111 was charged twice.", "Let me check that payment.", None),
    "pii_iban": ("Send it to GB82 WEST 1234 5698 7654 32 please.", "The transfer is on its way.", None),
    "pii_secret": ("Why does my code fail?", "Your config has api_key = 'a8f5f167f44f4964e6c998dee827110c' exposed.",
                   None),
    "encoding_garbage": ("What does cafÃ© mean?", "It means a small restaurant.", None),
    "template_artifact": ("Say hello.", "Hello!<|im_end|>", None),
    "script_mismatch": ("What is the tallest mountain in the world?",
                        "Самая высокая гора в мире — Эверест, её высота 8849 метров.", None),
    "repetitive_response": ("Tell me a story.", "The cat sat on the mat. " * 40, None),
    "role_error": ("Hello", "Hi there", (("user", "Hello"), ("user", "again"), ("assistant", "Hi there"))),
    "repeated_turn": ("How are you?", "Fine.", (("user", "How are you?"), ("assistant", "Fine."),
                                                ("user", "How are you?"), ("assistant", "Fine."))),
}


def test_planted_defects_are_flagged_and_only_there(dolly):
    p, r, s, t = (list(x) for x in dolly)
    base = len(p)
    for prompt, response, turns in PLANTED.values():
        p.append(prompt)
        r.append(response)
        s.append("")
        t.append(turns if turns is not None else (("user", prompt), ("assistant", response)))
    f = quality_flags(p, r, s, ["train"] * len(p), t)
    for k, name in enumerate(PLANTED):
        assert name in f.flags[base + k], (name, f.flags[base + k])
    # the planted rows' defects do not leak into the real rows' counts
    for name in ("pii_card", "pii_iban", "pii_secret", "template_artifact", "script_mismatch", "role_error"):
        assert f.has(name)[:base].sum() == 0, name


def test_near_misses_are_not_flagged():
    prompts = [
        "My card number is 4111 1111 1111 1112, is that valid?",  # fails the Luhn check
        "Is GB82 WEST 1234 5698 7654 33 a real IBAN?",  # fails mod 97
        "The meeting is in 2023 at 10:30.",
        "I can't wait to start!",
        "Thanks, I'm done.",
    ]
    responses = ["Let me look.", "Let me look.", "Noted.", "Great, let's go.", "You are welcome."]
    f = quality_flags(prompts, responses, None, ["train"] * 5)
    assert f.counts == {}


def test_length_outliers_are_relative_to_the_dataset(dolly):
    p, r, s, _ = (list(x) for x in dolly)
    p.append("Describe the history of Rome.")
    r.append("Rome. " * 2000)  # 12,000 characters among answers of a few hundred
    s.append("")
    f = quality_flags(p, r, s, ["train"] * len(p))
    assert "very_long_response" in f.flags[-1]
    assert f.length_stats["median_chars"] < f.length_stats["long_above_chars"] < 12_000


def test_production_rows_need_no_response_and_production_turns_are_fine():
    prompts = ["How do I reset my password?", "where is my card"]
    f = quality_flags(prompts, ["", ""], None, ["production", "train"],
                      [(("user", prompts[0]),), (("user", prompts[1]),)])
    assert f.flags[0] == ()
    assert set(f.flags[1]) == {"empty_response", "role_error"}


def test_every_flag_is_documented_and_summary_is_jsonable():
    import json

    assert set(PLANTED) <= set(FLAG_DEFINITIONS)
    f = quality_flags(["a"], [""], None, ["train"])
    json.dumps(f.summary())
    assert f.summary()["counts"][0]["definition"] == FLAG_DEFINITIONS["empty_response"]


def test_mismatched_lengths_are_a_clear_error():
    with pytest.raises(AnalysisError):
        quality_flags(["a", "b"], ["x"], None, None)
