"""A damaged journal never makes a store unreadable and never hides the other sweeps."""
import logging
import os
import pathlib
import uuid

import pytest

from sweeps import Store, SweepsError, load_sweep, sweep
from sweeps._journal import damage, repair
from tests.sweeps import tasks_for_tests as toys


def _two_sweeps(path):
    for name in ("first", "second"):
        sweep(toys.create_task, dict(x=[0, 1, 2]), data=toys.load_offset, store=str(path),
              name=name, executor="sequential", progress=False)


def _damage_and_check(path, caplog, mutate, expect):
    _two_sweeps(path)
    original = path.read_bytes()
    mutate(path)
    with caplog.at_level(logging.WARNING, logger="sweeps._journal"):
        store = Store(path)
        assert store.list_sweeps() == ["first", "second"]
    assert not damage(path)
    text = caplog.text
    assert str(path) in text and expect in text, text
    copies = list(path.parent.glob(path.name + ".damaged-*"))
    assert len(copies) == 1 and copies[0].read_bytes() != original  # the damaged file, kept
    # everything recorded before the damage is still there, and the store takes new work
    assert len(load_sweep("first", path)) == 3
    result = sweep(toys.create_task, dict(x=[0, 1, 2, 3]), data=toys.load_offset, store=str(path),
                   name="second", executor="sequential", progress=False)
    assert len(result) == 4 and all(r.ok for r in result)
    assert len(load_sweep("first", path)) == 3


def test_a_torn_last_line_is_cut_and_named(tmp_path, caplog):
    def tear(path):
        data = path.read_bytes()
        path.write_bytes(data[:-25])  # the last operation loses its end and its newline

    _damage_and_check(tmp_path / "s.log", caplog, tear, "line")


def test_a_torn_line_with_a_later_write_glued_on_keeps_the_whole_write(tmp_path, caplog):
    def glue(path):
        lines = path.read_bytes().split(b"\n")
        lines[-3] = lines[-3][:20] + lines[-2]  # a torn write, then the next one on its line
        del lines[-2]
        path.write_bytes(b"\n".join(lines))

    _damage_and_check(tmp_path / "s.log", caplog, glue, "glued")


@pytest.mark.parametrize("junk", [b"\n", b"   \n", b"garbage that is not json\n", b"{\"op\n"])
def test_blank_and_garbage_lines_are_dropped(tmp_path, caplog, junk):
    def insert(path):
        lines = path.read_bytes().splitlines(keepends=True)
        lines.insert(len(lines) // 2, junk)
        path.write_bytes(b"".join(lines))

    _damage_and_check(tmp_path / "s.log", caplog, insert, "line")


def test_a_sound_journal_is_left_alone(tmp_path):
    path = tmp_path / "s.log"
    _two_sweeps(path)
    before = path.read_bytes()
    assert repair(path) == []
    Store(path).list_sweeps()
    assert path.read_bytes() == before
    assert not list(tmp_path.glob("*.damaged-*"))


@pytest.mark.slow
def test_a_full_filesystem_then_freed_space_leaves_a_readable_store(tmp_path, caplog, tmpfs):
    folder = tmp_path / "small"
    folder.mkdir()
    tmpfs(folder, "size=256k", "needs root and a tmpfs mount to fill a real filesystem")
    path = folder / "s.log"
    sweep(toys.create_task, dict(x=[0, 1]), data=toys.load_offset, store=str(path),
          name="kept", executor="sequential", progress=False)
    filler = folder / "filler"
    handle = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:  # fill the disk, then give back a few KB: the sweep's writes fill the rest
        while True:
            os.write(handle, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(handle)
    os.truncate(filler, max(os.path.getsize(filler) - 6000, 0))
    # the disk fills up in the middle of the sweep: one clear line naming the store
    with pytest.raises(SweepsError, match=r"the store .*s\.log' cannot be written \(No space"):
        sweep(toys.create_task, dict(x=list(range(40)), epochs=30), data=toys.load_offset,
              store=str(path), name=f"full-{uuid.uuid4().hex[:4]}", executor="sequential",
              progress=False)
    assert damage(path), "the full disk left no torn line: the test did not test anything"
    filler.unlink()  # space freed, as the README says, then run again
    with caplog.at_level(logging.WARNING, logger="sweeps._journal"):
        assert "kept" in Store(path).list_sweeps()
    assert "repaired the journal" in caplog.text and str(path) in caplog.text
    assert len(load_sweep("kept", path)) == 2
    result = sweep(toys.create_task, dict(x=[0, 1, 2]), data=toys.load_offset,
                   store=str(path), name="kept", executor="sequential", progress=False)
    assert len(result) == 3 and all(r.ok for r in result)


def test_repair_reports_the_file_and_line(tmp_path):
    path = pathlib.Path(tmp_path / "s.log")
    _two_sweeps(path)
    with open(path, "ab") as handle:
        handle.write(b'{"op_code": 5, "worker_id": "x", "tri')
    messages = repair(path)
    assert len(messages) == 1 and messages[0].startswith("line ")
    assert "torn last line" in messages[0]


def test_a_write_in_flight_during_a_repair_is_not_lost(tmp_path):
    """Another participant appending to the journal (another sweep in the same file) while a
    new one repairs it at open: its line lands in the repaired file, not in the replaced one."""
    import threading
    import time

    from sweeps._journal import append_lock_path, file_lock

    path = tmp_path / "s.log"
    _two_sweeps(path)
    with open(path, "ab") as handle:
        handle.write(b"garbage, as a full disk leaves it\n")
    whole = path.read_bytes().splitlines()[0] + b"\n"  # an operation replayed twice is harmless
    repaired = threading.Event()
    with file_lock(pathlib.Path(append_lock_path(path))):  # a writer in the middle of its append
        with open(path, "ab") as writer:
            opener = threading.Thread(target=lambda: (Store(path).list_sweeps(), repaired.set()))
            opener.start()
            time.sleep(0.3)  # a repair that does not wait for the writer has replaced the file
            writer.write(whole)
    opener.join(30)
    assert repaired.is_set()
    lines = path.read_bytes().splitlines()
    assert lines[-1] == whole.strip() and b"garbage" not in path.read_bytes()
    assert Store(path).list_sweeps() == ["first", "second"]


@pytest.mark.parametrize("locks", ["kept", "gone"])
def test_a_store_on_a_read_only_filesystem_stays_readable(tmp_path, tmpfs, locks):
    """Reading locks nothing it cannot create (it raised 'OSError: [Errno 30] Read-only file
    system: .../s.log.sweeps-lock'); writing is still refused with one clear line. As root the
    folder-permission case (EACCES) cannot be made: root creates files in any folder."""
    import subprocess
    import sys

    folder = tmp_path / "ro"
    folder.mkdir()
    tmpfs(folder, "size=4m", "needs root to mount a tmpfs and turn it read-only")
    path = folder / "s.log"
    sweep(toys.create_task, dict(x=[1, 2]), data=toys.load_offset, store=str(path), name="a",
          executor="sequential", progress=False)
    if locks == "gone":  # a bare journal copied onto read-only media
        for lock in folder.glob("s.log.*"):
            lock.unlink()
    with open(path, "ab") as handle:
        handle.write(b'{"op_code": 4, "tor')  # a torn last line: cannot be repaired here
    subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
    before = sorted(os.listdir(folder))
    assert len(load_sweep("a", store=str(path))) == 2
    repo = pathlib.Path(__file__).resolve().parents[2]
    for args in (["list"], ["verify", "a"], ["leaderboard", "a"]):
        run = subprocess.run([sys.executable, "-m", "sweeps", *args, "--store", str(path)],
                             capture_output=True, text=True, cwd=repo, timeout=120)
        assert run.returncode == 0 and "Traceback" not in run.stderr, (args, run.stderr)
        assert "a" in run.stdout
    with pytest.raises(SweepsError, match="cannot be written"):
        sweep(toys.create_task, dict(x=[3]), data=toys.load_offset, store=str(path), name="a",
              executor="sequential", progress=False)
    assert sorted(os.listdir(folder)) == before
    assert len(load_sweep("a", store=str(path))) == 2
