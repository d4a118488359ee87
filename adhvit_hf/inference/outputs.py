# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Atomic file writes: a killed run leaves either the old file or the complete new one, never a partial file."""

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Iterator

import numpy as np


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """Yields a binary file that replaces `path` only when the `with` block finishes without an exception.

    The data goes to a hidden `.tmp` file in the same directory (same file system, so `os.replace` is atomic); its
    name does not end in the target's suffix, so a glob such as `*.npy` never picks up an unfinished file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp_name)
        raise


def save_npy(path: str | os.PathLike, array: np.ndarray) -> None:
    """Writes `array` to `path` in .npy format, atomically."""
    with atomic_output(path) as file:
        np.save(file, array)


def save_json(path: str | os.PathLike, data) -> None:
    """Writes `data` to `path` as indented JSON, atomically."""
    with atomic_output(path) as file:
        file.write((json.dumps(data, indent=2) + "\n").encode("utf-8"))
