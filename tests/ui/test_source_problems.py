"""A moved or changed source file: the window offers Locate…, Accept the change, Remove the source
and Later, each through the same core calls as ``workbench relink`` / ``accept-change`` /
``remove-source`` (the project records end up the same as the CLI's)."""

from __future__ import annotations

import shutil

import pytest
from PySide6 import QtWidgets


def _project(files, path):
    from workbench.project import Project
    from workbench.project.journal import Reject

    with Project.create(path) as p:
        for f, role in files:
            p.add_source(f, role)
        ws = p.load()
        prod = next(i for i, r in enumerate(ws.role) if r == "production")
        p.apply(Reject([ws.example_id(prod)], "off-topic"))  # curation on the file that will change
    return path


def _records(path):
    from workbench.project import Project

    with Project.open(path, read_only=True) as p:
        return ([(s.id, s.name, s.role, s.path, s.sha256, s.rows) for s in p.sources], p.state.set_aside)


def _dialog(qtbot, win):
    qtbot.waitUntil(lambda: getattr(win, "source_problems", None) is not None, timeout=60_000)
    return win.source_problems


def _break(files, tmp_path):
    """Move the banking train file away; drop the last 20 lines of the production file."""
    train = next(f for f, _ in files if f.name == "train_banking_chat.jsonl")
    prod = next(f for f, _ in files if f.name == "production_banking.jsonl")
    moved = tmp_path / "moved"
    moved.mkdir()
    shutil.move(str(train), str(moved / train.name))
    lines = prod.read_bytes().splitlines(keepends=True)
    prod.write_bytes(b"".join(lines[:-20]))
    return moved / train.name, prod, len(lines) - 20


def test_locate_and_accept_do_what_relink_and_accept_change_do(qtbot, window, small_sample, tmp_path):
    from workbench.cli.main import main

    project = _project(small_sample, tmp_path / "p.wbproj")
    cli = tmp_path / "cli.wbproj"
    shutil.copy(project, cli)
    new_train, prod, prod_rows = _break(small_sample, tmp_path)
    s = window.session
    assert s.open_project(project)
    dlg = _dialog(qtbot, window)
    assert len(dlg.problems) == 2
    states = {st.info.name: st.state for st in dlg.problems}
    assert states == {"train_banking_chat.jsonl": "missing", "production_banking.jsonl": "changed"}
    for st, btns in zip(dlg.problems, dlg.buttons):  # Accept only where there is a changed file
        assert set(btns) == ({"locate", "accept", "remove"} if st.state == "changed" else {"locate", "remove"})
        assert all(b.toolTip() for b in btns.values())
    assert dlg.later.text() == "Later"

    # Later: nothing changes, the status bar says what waits; clicking it asks again
    dlg.later.click()
    qtbot.waitUntil(lambda: window.status._notice_kind == "sources", timeout=5_000)
    assert s.ws is None and _records(project)[0] == _records(cli)[0]
    window.status._on_notice()
    dlg = _dialog(qtbot, window)

    # Locate… the moved file: relinked, the changed one still waits
    k = next(i for i, st in enumerate(dlg.problems) if st.state == "missing")
    assert dlg.choose(k, "locate", path=str(new_train))
    qtbot.waitUntil(lambda: window.source_problems is not None and window.source_problems is not dlg
                    and len(window.source_problems.problems) == 1, timeout=60_000)
    dlg = window.source_problems
    assert dlg.problems[0].info.name == "production_banking.jsonl"
    # Accept the change: read again, the curation on its old content set aside; the project loads
    assert dlg.choose(0, "accept")
    qtbot.waitUntil(lambda: s.ws is not None, timeout=60_000)
    assert int((s.ws.role == "production").sum()) == prod_rows
    assert not s.ws.rejected.any()  # the reject made on the old content no longer applies

    assert main(["relink", str(cli), "train_banking_chat.jsonl", str(new_train)]) == 0
    assert main(["accept-change", str(cli), str(prod)]) == 0
    s.close()
    app_sources, app_aside = _records(project)
    cli_sources, cli_aside = _records(cli)
    assert app_sources == cli_sources and app_aside == cli_aside == 1


def test_remove_the_source_and_a_located_file_with_other_content(qtbot, window, small_sample, tmp_path, monkeypatch):
    from workbench.cli.main import main

    project = _project(small_sample, tmp_path / "p.wbproj")
    cli = tmp_path / "cli.wbproj"
    shutil.copy(project, cli)
    new_train, prod, prod_rows = _break(small_sample, tmp_path)
    s = window.session
    assert s.open_project(project)
    dlg = _dialog(qtbot, window)
    # the changed production file "located" for the missing train source: other content, so the
    # window asks whether to accept it as the train source's changed content; Cancel keeps all
    k = next(i for i, st in enumerate(dlg.problems) if st.state == "missing")
    assert dlg.choose(k, "locate", path=str(prod))
    box = None

    def find_box():
        nonlocal box
        box = window.findChild(QtWidgets.QMessageBox, "acceptInsteadBox")
        return box is not None and box.isVisible()

    qtbot.waitUntil(find_box, timeout=60_000)
    assert "sha256" in box.text()
    next(b for b in box.buttons() if b.text() == "Cancel").click()
    assert s.ws is None and _records(project)[0] == _records(cli)[0]

    # Remove the source (confirmed), for the missing train file; then accept the changed one
    s.reload()
    dlg = _dialog(qtbot, window)
    k = next(i for i, st in enumerate(dlg.problems) if st.state == "missing")
    monkeypatch.setattr(QtWidgets.QMessageBox, "question", lambda *a, **kw: QtWidgets.QMessageBox.Yes)
    assert dlg.choose(k, "remove")
    qtbot.waitUntil(lambda: window.source_problems is not None and window.source_problems is not dlg, timeout=60_000)
    assert window.source_problems.choose(0, "accept")
    qtbot.waitUntil(lambda: s.ws is not None, timeout=60_000)
    assert "train_banking_chat.jsonl" not in set(s.ws.source_names)
    assert main(["remove-source", str(cli), "train_banking_chat.jsonl"]) == 0
    assert main(["accept-change", str(cli), str(prod)]) == 0
    s.close()
    assert _records(project) == _records(cli)


@pytest.fixture(autouse=True)
def _no_recent(monkeypatch, tmp_path):
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
