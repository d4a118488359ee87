# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Atomic writes: nothing half-written, the old file replaced only when the new one is complete, modes as open's."""

import os
import stat

import numpy as np
import pytest

from adhvit_hf.utils import atomic_write, save_json, save_npy


def test_atomic_output_leaves_nothing_when_the_write_fails(tmp_path):
    target = tmp_path / "features" / "video.npy"
    with pytest.raises(RuntimeError, match="killed"):
        with atomic_write(target, "wb") as file:
            file.write(b"partial")
            raise RuntimeError("killed")

    assert not target.exists()
    assert list(target.parent.iterdir()) == []


def test_atomic_output_replaces_the_old_file_only_when_complete(tmp_path):
    target = tmp_path / "video.npy"
    save_npy(target, np.arange(3, dtype=np.float32))
    with pytest.raises(RuntimeError):
        with atomic_write(target, "wb") as file:
            file.write(b"partial")
            raise RuntimeError("killed")
    assert np.load(target).tolist() == [0.0, 1.0, 2.0]

    save_npy(target, np.ones((2, 2), dtype=np.float32))
    assert np.load(target).tolist() == [[1.0, 1.0], [1.0, 1.0]]
    assert [path.name for path in tmp_path.iterdir()] == ["video.npy"]


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_atomic_write_respects_the_umask_like_open(tmp_path, umask):
    """Row: output files get the permissions a plain open() gives them (mkstemp alone makes them 0600)."""
    old = os.umask(umask)
    try:
        save_npy(tmp_path / "a.npy", np.zeros(2))
        save_json(tmp_path / "a.json", {"a": 1})
        with open(tmp_path / "plain.txt", "w") as handle:
            handle.write("x")
    finally:
        os.umask(old)
    modes = {name: stat.S_IMODE(os.stat(tmp_path / name).st_mode) for name in ("a.npy", "a.json", "plain.txt")}
    assert modes == {"a.npy": 0o666 & ~umask, "a.json": 0o666 & ~umask, "plain.txt": 0o666 & ~umask}


def test_atomic_write_keeps_the_mode_of_the_file_it_replaces(tmp_path):
    target = tmp_path / "list.txt"
    target.write_text("old")
    os.chmod(target, 0o640)
    with atomic_write(target) as handle:
        handle.write("new")
    assert (target.read_text(), stat.S_IMODE(os.stat(target).st_mode)) == ("new", 0o640)
