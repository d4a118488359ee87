"""Small helpers shared across the package."""

import contextlib
import json
import os
import sys
import tempfile

import numpy as np


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", **kwargs):
    """Open a temporary file beside `path` and move it into place only when the block succeeds.

    A killed or failed writer leaves no file at `path` that looks complete: the data goes to a hidden `.tmp` file
    in the same folder (same file system, so `os.replace` is atomic) whose name does not end in the target's
    suffix, so a glob such as `*.npy` never picks up an unfinished file.
    """
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def save_npy(path: str | os.PathLike, array: np.ndarray) -> None:
    """Writes `array` to `path` in .npy format, atomically."""
    with atomic_write(path, "wb") as file:
        np.save(file, array)


def save_json(path: str | os.PathLike, data) -> None:
    """Writes `data` to `path` as indented JSON, atomically."""
    with atomic_write(path, "w", encoding="utf-8") as file:
        file.write(json.dumps(data, indent=2) + "\n")


def run_cli(main, argv: list[str] | None = None) -> None:
    """Run a script's `main(argv)` for the command line: bad input ends in one line, not a traceback.

    A `ValueError` (our `ClipListError`, `VideoDecodeError`, `CheckpointError` and the argument checks all
    derive from it) prints `error: <message>` on stderr and exits with status 2, like argparse's usage errors.
    Set ADHVIT_TRACEBACK=1 to see the traceback instead. An integer returned by `main` is the exit status.
    """
    try:
        status = main(argv)
    except ValueError as error:
        if os.environ.get("ADHVIT_TRACEBACK") == "1":
            raise
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    if isinstance(status, int):
        sys.exit(status)
