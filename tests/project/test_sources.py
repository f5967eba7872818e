"""Sources on disk: a changed file is reported by name and never gets edits meant for other
records; a missing file names itself; relinking and moving the project folder work."""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import SAMPLE
from workbench.core.errors import InputError, ProjectError, SourceChangedError
from workbench.project import Project, SourceMissingError
from workbench.project.journal import Edit, Reject, Tag


def _project_with_copies(folder):
    """A project in ``folder`` whose two sources are copies of sample files in ``folder/data``."""
    data = folder / "data"
    data.mkdir(parents=True)
    shutil.copy(SAMPLE / "train_banking_chat.jsonl", data / "train.jsonl")
    shutil.copy(SAMPLE / "production_banking.jsonl", data / "prod.jsonl")
    p = Project.create(folder / "p.wbproj")
    p.add_source(data / "train.jsonl", "train")
    p.add_source(data / "prod.jsonl", "production")
    ws = p.load()
    rec = ws.record(ws.index_of((1, 5)))
    rec["messages"][-1]["content"] = "card_delivery_estimate"
    p.apply(Edit((1, 5), rec))
    p.apply(Reject([(1, 3), (2, 4)], "duplicate"))
    p.apply(Tag([(1, 7)], "review"))
    return p, data


def test_changed_source_is_reported_by_name_and_nothing_applied(tmp_path):
    p, data = _project_with_copies(tmp_path)
    p.close()
    lines = (data / "train.jsonl").read_text().splitlines(keepends=True)
    # a new first line shifts every record: line 5 is now another example
    (data / "train.jsonl").write_text(lines[10] + "".join(lines))

    p = Project.open(tmp_path / "p.wbproj")
    with pytest.raises(SourceChangedError, match=r"'train\.jsonl' \(train\) changed on disk") as info:
        p.load()
    assert "prod.jsonl" not in str(info.value)
    assert [s.info.name for s in info.value.problems] == ["train.jsonl"]
    assert [s.state for s in p.check_sources()] == ["changed", "ok"]
    with pytest.raises(SourceChangedError, match="does not have the content"):
        p.relink(1, data / "train.jsonl")

    info = p.accept_changed(1)  # the curator's explicit choice
    assert info.rows == 914
    ws = p.load()
    # curation made on the old content is set aside, not applied to the records now on those lines
    assert not ws.edited.any()
    assert ws.rejected.sum() == 1 and ws.rejected[ws.index_of((2, 4))]
    assert not any(ws.tags)
    assert p.state.set_aside >= 3
    assert ws.response[ws.index_of((1, 5))] == "card_arrival"
    # new curation on the new content works, and undoing the old ops changes nothing on source 1
    p.apply(Reject([(1, 1)], "off-topic"))
    assert ws.rejected[ws.index_of((1, 1))]
    p.undo()
    p.undo()  # the Tag on old content: set aside
    assert not ws.rejected[ws.index_of((1, 1))]
    p.close()
    with Project.open(tmp_path / "p.wbproj") as q:
        ws = q.load()
        assert not ws.edited.any() and ws.rejected.sum() == 1


def test_missing_source_names_the_file_and_relink_restores_everything(tmp_path):
    p, data = _project_with_copies(tmp_path)
    p.close()
    elsewhere = tmp_path / "moved"
    elsewhere.mkdir()
    shutil.move(data / "prod.jsonl", elsewhere / "prod-renamed.jsonl")

    with Project.open(tmp_path / "p.wbproj") as p:
        with pytest.raises(SourceMissingError, match=r"'prod\.jsonl' \(production\) is missing"):
            p.load()
        with pytest.raises(InputError, match="does not exist"):
            p.relink(2, tmp_path / "nope.jsonl")
        with pytest.raises(SourceChangedError):
            p.relink(2, data / "train.jsonl")  # wrong file: refused
        p.relink(2, elsewhere / "prod-renamed.jsonl")
        ws = p.load()
        assert ws.rejected[ws.index_of((2, 4))] and ws.edited[ws.index_of((1, 5))]
    with Project.open(tmp_path / "p.wbproj") as p:
        assert p.source(2).path == str(elsewhere / "prod-renamed.jsonl")
        assert p.load().rejected.sum() == 2


def test_moving_the_whole_folder_keeps_the_project_working(tmp_path):
    p, _ = _project_with_copies(tmp_path / "a")
    p.close()
    shutil.move(tmp_path / "a", tmp_path / "b")  # old absolute paths no longer exist
    with Project.open(tmp_path / "b" / "p.wbproj") as p:
        ws = p.load()
        assert ws.n == 913 + 539
        assert ws.edited[ws.index_of((1, 5))] and ws.response[ws.index_of((1, 5))] == "card_delivery_estimate"
        assert [s.path.parent.name for s in p.check_sources()] == ["data", "data"]


def test_add_source_errors(tmp_path):
    with Project.create(tmp_path / "p.wbproj") as p:
        with pytest.raises(InputError, match="does not exist"):
            p.add_source(tmp_path / "none.jsonl", "train")
        with pytest.raises(ProjectError, match="Unknown role"):
            p.add_source(SAMPLE / "train_banking_chat.jsonl", "training")
        p.add_source(SAMPLE / "train_banking_chat.jsonl", "train")
        with pytest.raises(ProjectError, match="already in the project"):
            p.add_source(SAMPLE / "train_banking_chat.jsonl", "eval")
        bad = tmp_path / "bad.jsonl"
        bad.write_text("not json\n{also not\n")
        with pytest.raises(InputError):
            p.add_source(bad, "production")
        assert [s.name for s in p.sources] == ["train_banking_chat.jsonl"]
