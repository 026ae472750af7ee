"""Output sets: a target is created, or replaced whole when it holds only npas's own output; nothing else is touched."""
from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

import pytest

from forecasting.data.problems import InputError
from forecasting.outputs import MARKER, output_set, read_marker


def write(target, kind="forecast", text="new", **kw):
    with output_set(target, kind, **kw) as staging:
        (staging / "a.csv").write_text(text)
        (staging / "sub").mkdir()
        (staging / "sub" / "b.png").write_text(text)


def lay_bystanders(root: Path) -> dict[Path, str]:
    """Unrelated files beside the target, in its parent and in the working directory."""
    files = {root / "thesis.docx": "mine", root / "parent" / "notes.txt": "mine too", root / "parent" / ".hidden": "x"}
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return files


def assert_untouched(files: dict[Path, str]) -> None:
    for path, text in files.items():
        assert path.read_text() == text, path


def test_creates_then_replaces_its_own_output_whole(tmp_path):
    files = lay_bystanders(tmp_path)
    target = tmp_path / "parent" / "out"
    write(target, text="old")
    (target / "sub" / "b.png").write_text("old")
    write(target, text="new")
    assert (target / "a.csv").read_text() == "new" and (target / "sub" / "b.png").read_text() == "new"
    marker = read_marker(target)
    assert marker["kind"] == "forecast" and set(marker["files"]) == {"a.csv", "sub", "sub/b.png"}
    assert sorted(p.name for p in (tmp_path / "parent").iterdir()) == [".hidden", "notes.txt", "out"]
    assert_untouched(files)


def test_a_directory_with_a_users_file_is_refused_even_with_force(tmp_path):
    target = tmp_path / "out"
    write(target)
    (target / "thesis.docx").write_text("mine")
    for force in (False, True):
        with pytest.raises(InputError, match="holds files npas did not write .thesis.docx."):
            write(target, force=force)
    assert (target / "thesis.docx").read_text() == "mine" and (target / "a.csv").read_text() == "new"


def test_a_plain_directory_of_user_files_is_refused(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "thesis.docx").write_text("mine")
    with pytest.raises(InputError, match="holds files npas did not write"):
        write(target)
    assert os.listdir(target) == ["thesis.docx"]


def test_another_kind_needs_force(tmp_path):
    target = tmp_path / "out"
    write(target, kind="model")
    with pytest.raises(InputError, match="previous npas model output; pass --force"):
        write(target, kind="forecast")
    write(target, kind="forecast", force=True)
    assert read_marker(target)["kind"] == "forecast"


@pytest.mark.parametrize("name", [".", "..", "", "~", "/"])
def test_working_directory_parents_home_and_root_are_refused(tmp_path, monkeypatch, name):
    work = tmp_path / "work"
    work.mkdir()
    (work / "keep.txt").write_text("mine")
    monkeypatch.chdir(work)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    target = os.path.expanduser(name) if name == "~" else name
    with pytest.raises(InputError):
        write(target)
    assert (work / "keep.txt").read_text() == "mine"


def test_symlink_file_and_under_a_file_are_refused(tmp_path):
    real = tmp_path / "real"
    write(real)
    (tmp_path / "link").symlink_to(real)
    with pytest.raises(InputError, match="symbolic link"):
        write(tmp_path / "link")
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="a file, not a directory"):
        write(tmp_path / "file")
    with pytest.raises(InputError, match="under .*file, which is a file"):
        write(tmp_path / "file" / "out")
    assert (tmp_path / "file").read_text() == "x"


def test_an_input_is_never_the_target(tmp_path):
    data = tmp_path / "data"
    write(data, kind="dataset")
    with pytest.raises(InputError, match="would replace the input"):
        write(data, kind="forecast", force=True, protect=(data / "deals.csv",))


def test_a_failure_leaves_the_old_output_and_no_temporary_files(tmp_path):
    target = tmp_path / "out"
    write(target, text="old")
    with pytest.raises(RuntimeError), output_set(target, "forecast") as staging:
        (staging / "a.csv").write_text("half")
        raise RuntimeError("disk full")
    assert (target / "a.csv").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_files_respect_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        write(tmp_path / "out")
    finally:
        os.umask(old)
    assert (tmp_path / "out").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "out" / "a.csv").stat().st_mode & 0o777 == 0o644


def _slow_writer(target: str, text: str, started) -> None:
    with output_set(target, "forecast") as staging:
        started.set()
        time.sleep(2)
        (staging / "a.csv").write_text(text)


def test_a_second_concurrent_writer_is_refused(tmp_path):
    target = tmp_path / "out"
    ctx = multiprocessing.get_context("fork")
    started = ctx.Event()
    first = ctx.Process(target=_slow_writer, args=(str(target), "first", started))
    first.start()
    assert started.wait(20)
    with pytest.raises(InputError, match="another npas command is writing"):
        write(target, text="second")
    first.join(30)
    assert first.exitcode == 0 and (target / "a.csv").read_text() == "first"


def test_a_killed_writer_leaves_the_old_output_and_its_leftovers_are_cleaned(tmp_path):
    target = tmp_path / "out"
    write(target, text="old")
    ctx = multiprocessing.get_context("fork")
    started = ctx.Event()
    victim = ctx.Process(target=_slow_writer, args=(str(target), "never", started))
    victim.start()
    assert started.wait(20)
    victim.kill()
    victim.join()
    assert (target / "a.csv").read_text() == "old"
    assert any(p.name.startswith(".out.npas-staging-") for p in tmp_path.iterdir())
    write(target, text="new")
    assert (target / "a.csv").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert (target / MARKER).is_file()
