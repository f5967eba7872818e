"""Readers on real data: detection per file, columns of SourceData, CSV/TSV/Parquet with and
without a column mapping, analysis units, progress and cancel."""

from __future__ import annotations

import json

import pytest

from tests.conftest import shared_data
from workbench.core.errors import Cancelled, InputError
from workbench.core.progress import CancelToken
from workbench.io.readers import read_source


@pytest.mark.parametrize(
    "name, schema, n, extra",
    [
        ("train_banking_chat.jsonl", "chat", 913, []),
        ("train_dolly_alpaca.jsonl", "alpaca", 400, []),
        ("production_banking.jsonl", "text", 539, ["label"]),
        ("eval_banking_chat.jsonl", "chat", 235, []),
    ],
)
def test_sample_data(sample_dir, name, schema, n, extra):
    src = read_source(sample_dir / name)
    assert (src.schema, src.container, len(src), list(src.extra)) == (schema, "jsonl", n, extra)
    assert not src.errors and src.total_lines == n
    assert list(src.lines[:3]) == [1, 2, 3]
    assert len(src.prompt) == len(src.response) == len(src.system) == len(src.n_turns) == n
    assert src.record(0) == json.loads((sample_dir / name).read_text(encoding="utf-8").split("\n")[0])


def test_chat_columns(sample_dir):
    src = read_source(sample_dir / "train_banking_chat.jsonl")
    first = json.loads(src.raw[0])["messages"]
    assert (src.system[0], src.prompt[0], src.response[0]) == tuple(m["content"] for m in first)
    assert src.stats["roles"] == {"system": 913, "user": 913, "assistant": 913}
    assert set(src.n_turns.tolist()) == {3}


def test_production_log_keeps_label(sample_dir):
    src = read_source(sample_dir / "production_banking.jsonl")
    assert src.response == [""] * len(src)
    assert src.extra["label"][0] == "card_arrival"


def test_same_examples_in_four_schemas_normalise_alike():
    base = "dolly15k_open_qa"
    chat = read_source(shared_data(base, "dolly_open_qa_chat.jsonl"))
    for name in ("dolly_open_qa_alpaca.jsonl", "dolly_open_qa_prompt_completion.jsonl", "dolly_open_qa.jsonl"):
        other = read_source(shared_data(base, name))
        assert other.prompt == chat.prompt, name
        assert other.response == chat.response, name
    dolly = read_source(shared_data(base, "dolly_open_qa.jsonl"))
    assert dolly.mapping["input"] == "context" and set(dolly.extra) == {"category", "source_line"}


def test_clinc_extras_keep_types():
    src = read_source(shared_data("clinc150", "clinc150_oos_val.jsonl"))
    assert set(src.extra) == {"label", "domain", "is_oos"} and src.extra["is_oos"][0] is True


def test_guessed_text_field_is_reported():
    src = read_source(shared_data("paws_wiki", "paws_wiki_dev.jsonl"))
    assert src.schema == "text" and src.mapping["prompt"] == "sentence1"
    assert any("guessed" in n for n in src.notes)
    assert set(src.extra) == {"id", "sentence2", "label"}


def test_mapping_on_jsonl(tmp_path):
    p = tmp_path / "pairs.jsonl"
    p.write_text("\n".join(json.dumps({"id": i, "s1": f"first {i}", "s2": f"second {i}"}) for i in range(3)))
    src = read_source(p, mapping={"prompt": "s2", "response": "s1"})
    assert src.schema == "prompt_completion" and src.prompt[0] == "second 0" and src.response[0] == "first 0"
    assert list(src.extra) == ["id"]


def test_units_on_multi_turn_file(tmp_path):
    rec = {"conversations": [{"from": "human", "value": "a"}, {"from": "gpt", "value": "b"},
                             {"from": "human", "value": "c"}, {"from": "gpt", "value": "d"}]}
    p = tmp_path / "multi.jsonl"
    p.write_text(json.dumps(rec) + "\n")
    assert read_source(p).prompt == ["c"]
    assert read_source(p, unit="all_user").prompt == ["a\n\nc"]
    assert read_source(p, unit="conversation").prompt == ["user: a\nassistant: b\nuser: c"]
    assert read_source(p).n_turns.tolist() == [4]
    with pytest.raises(InputError, match="unit"):
        read_source(p, unit="everything")


# ------------------------------------------------------------------------------------ CSV / Parquet


def test_csv_auto_detect_mapping_and_bad_rows(tmp_path):
    p = tmp_path / "qa.csv"
    p.write_bytes(
        b'\xef\xbb\xbfquestion,answer,label\r\n'
        b'"What is 2+2?",4,math\r\n'
        b'"A ""quoted"" and\r\nmultiline question",yes,misc\r\n'
        b'only,two\r\n'
        b'\r\n'
        b'last,row,x\r\n'
    )
    src = read_source(p)
    assert (src.container, src.schema) == ("csv", "prompt_completion")
    assert src.prompt == ["What is 2+2?", 'A "quoted" and\r\nmultiline question', "last"]
    # physical lines (header = line 1): the quoted cell spans lines 3-4, line 6 is blank (no record)
    assert list(src.lines) == [2, 3, 7]
    assert {e.line: e.reason for e in src.errors} == {5: "row has 2 fields, the header has 3"}
    assert src.extra["label"] == ["math", "misc", "x"]
    assert json.loads(src.raw[0]) == {"question": "What is 2+2?", "answer": "4", "label": "math"}
    mapped = read_source(p, mapping={"prompt": "label"})
    assert mapped.schema == "text" and mapped.prompt == ["math", "misc", "x"]
    with pytest.raises(InputError, match="column 'nope'"):
        read_source(p, mapping={"prompt": "nope"})


def test_tsv_and_chat_cells(tmp_path):
    msgs = json.dumps([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}])
    p = tmp_path / "chat.tsv"
    p.write_text("messages\tsplit\n" + msgs + "\ttrain\n", encoding="utf-8")
    src = read_source(p)
    assert (src.schema, src.prompt, src.response, src.extra["split"]) == ("chat", ["hi"], ["yo"], ["train"])


def test_parquet_with_and_without_mapping(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({
        "messages": [[{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}] for i in range(4)],
        "score": [0.5, 1.0, None, 2.0],
    })
    p = tmp_path / "chat.parquet"
    pq.write_table(table, p)
    src = read_source(p)
    assert (src.container, src.schema, len(src)) == ("parquet", "chat", 4)
    assert src.prompt == ["q0", "q1", "q2", "q3"] and src.extra["score"] == [0.5, 1.0, None, 2.0]
    assert list(src.lines) == [1, 2, 3, 4]
    flat = tmp_path / "flat.parquet"
    pq.write_table(pa.table({"q": ["x", "y"], "a": ["1", "2"], "ts": [1, 2]}), flat)
    mapped = read_source(flat, mapping={"prompt": "q", "response": "a"})
    assert mapped.schema == "prompt_completion" and mapped.response == ["1", "2"] and mapped.extra["ts"] == [1, 2]


def test_corrupt_parquet(tmp_path):
    p = tmp_path / "broken.parquet"
    p.write_bytes(b"PAR1" + b"\x01" * 100)
    with pytest.raises(InputError, match="not a readable Parquet file"):
        read_source(p)


# ------------------------------------------------------------------------------------ runner protocol


def test_progress_and_cancel(sample_dir):
    calls = []
    read_source(sample_dir / "train_banking_chat.jsonl", progress=lambda d, t, ph: calls.append((d, t, ph)))
    assert calls and calls[-1][0] == calls[-1][1] > 0 and calls[-1][2].startswith("reading")
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        read_source(sample_dir / "train_banking_chat.jsonl", cancel=token)
