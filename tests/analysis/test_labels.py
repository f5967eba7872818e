"""Cluster labels (class-based TF-IDF): distinctive words of real Banking77 intents."""

from __future__ import annotations

import numpy as np

from tests.analysis.realdata import SAMPLE, read_jsonl
from workbench.analysis.labels import base_forms, cluster_labels, ctfidf_terms, format_label


def _banking_train():
    rows = read_jsonl(SAMPLE / "train_banking_chat.jsonl")
    texts = [r["messages"][1]["content"] for r in rows]
    intents = [r["messages"][2]["content"] for r in rows]
    names, ids = np.unique(intents, return_inverse=True)
    return texts, ids, list(names)


def test_labels_name_the_intent():
    texts, ids, names = _banking_train()
    terms = ctfidf_terms(texts, ids, n_terms=3)
    assert set(terms) == set(range(len(names)))
    by_name = {names[c]: t for c, t in terms.items()}
    expect = {  # intent -> words of which at least one must be among its 3 terms
        "card_arrival": {"card", "arrive", "delivery", "track"},
        "exchange_rate": {"exchange", "rate"},
        "atm_support": {"atm"},
        "age_limit": {"age", "old", "children", "child"},
        "apple_pay_or_google_pay": {"apple", "google", "pay"},
        "passcode_forgotten": {"passcode", "forgot", "forget"},
        "country_support": {"country", "countries"},
        "visa_or_mastercard": {"visa", "mastercard"},
        "top_up_failed": {"top"},  # in scikit-learn's stop words, but a topic here
        "top_up_reverted": {"top"},
    }
    for intent, words in expect.items():
        assert words & set(by_name[intent]), (intent, by_name[intent])
    # labels differ between clusters: at most a few intents share a label
    labels = cluster_labels(texts, ids)
    assert len(set(labels.values())) >= 0.9 * len(names)
    # generic words shared by every banking query never make it into a label
    all_terms = {t for ts in terms.values() for t in ts}
    assert not all_terms & {"ve", "did", "don", "please", "hi"}


def test_inflections_fold_onto_a_base_form():
    vocab = ["arrive", "arrived", "arriving", "card", "cards", "charge", "charges", "news", "transfer"]
    base = base_forms(vocab)
    folded = {w: vocab[b] for w, b in zip(vocab, base)}
    assert folded["arrived"] == "arrive" and folded["arriving"] == "arrive"
    assert folded["cards"] == "card" and folded["charges"] == "charge"
    assert folded["transfer"] == "transfer"
    # a name that is a stem ("Tim") does not swallow a plural ("times" is "time")
    names = ["tim", "time", "times"]
    assert [names[b] for b in base_forms(names)] == ["tim", "time", "time"]
    texts = ["my cards arrived", "card arriving soon", "the card arrive", "new charges", "charge refund",
             "charges again"]
    terms = ctfidf_terms(texts, np.array([0, 0, 0, 1, 1, 1]), n_terms=2)
    assert set(terms[0]) == {"card", "arrive"}
    assert terms[1][0] == "charge"


def test_clusters_without_words_get_a_numbered_label():
    terms = ctfidf_terms(["123", "456", "!!!", "hello world", "hello there"], np.array([0, 0, 0, 1, 1]))
    assert terms[0] == []
    assert format_label(terms[0], 0) == "cluster 0"
    assert format_label(["card", "arrive"], 3) == "card · arrive"
    assert ctfidf_terms(["a"], np.array([-1])) == {}


def test_a_label_never_comes_from_one_stray_member():
    """A long member that repeats an off-topic word many times (a pasted log, say) must not name
    its cluster: label terms are words many members use."""
    texts, ids, names = _banking_train()
    c = names.index("card_arrival")
    rows = np.flatnonzero(ids == c)
    texts = list(texts)
    texts[rows[0]] = texts[rows[0]] + " zebra" * 40
    terms = ctfidf_terms(texts, ids, n_terms=3)
    assert "zebra" not in terms[c], terms[c]
    assert {"card", "arrive", "delivery", "track"} & set(terms[c])
    # and a word only 2 of its 14 members use does not either
    for k in rows[:2]:
        texts[k] = texts[k] + " giraffe"
    assert "giraffe" not in ctfidf_terms(texts, ids, n_terms=3)[c]
