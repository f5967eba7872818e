"""Adding data files from the window reads, checks and hashes them in the load worker (not on the
GUI thread): the good files are added and loaded, a bad one is reported once, by name."""

from __future__ import annotations


def test_add_files_in_the_background_reports_the_bad_one(qtbot, window, small_sample, tmp_path):
    s = window.session
    errors, messages = [], []
    s.sig_error.connect(lambda m, d: errors.append(m))
    s.sig_message.connect(messages.append)
    assert s.new_project(tmp_path / "add.wbproj")
    bad = tmp_path / "empty.jsonl"
    bad.write_text("not json\n{broken\n", encoding="utf-8")  # no record can be read
    pairs = [(small_sample[0][0], "train"), (bad, "train"), (small_sample[2][0], "production")]
    with qtbot.waitSignal(s.sig_workspace, timeout=60_000):
        assert s.add_files(pairs)  # returns at once: the work is in the load worker
        assert s.jobs["load"].busy
    assert [src.name for src in s.project.sources] == [small_sample[0][0].name, small_sample[2][0].name]
    assert s.ws.n == sum(src.rows for src in s.project.sources) and s.ws.n > 0
    assert len(errors) == 1 and "empty.jsonl" in errors[0]
    assert any(m.startswith("Added ") and small_sample[0][0].name in m for m in messages)
