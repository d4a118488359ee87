# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Small helpers shared across the package."""

import argparse
import contextlib
import io
import json
import logging
import os
import stat
import sys
import tempfile
from pathlib import Path

import numpy as np


class UserInputError(ValueError):
    """Bad input from the person running the program (a flag, a file, a folder), not a bug in the package.

    Raised where a known user error is recognised (a model folder without config.json, `--device cuda` without a GPU,
    ...), often converting the library's own exception; `run_cli` prints it as one `error:` line. The message names
    the file or flag and says what to do.
    """


def _umask() -> int:
    # The only portable way to read the umask is to set it; the old value is restored at once.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", **kwargs):
    """Open a temporary file beside `path` and move it into place only when the block succeeds.

    A killed or failed writer leaves no file at `path` that looks complete: the data goes to a hidden `.tmp` file
    in the same folder (same file system, so `os.replace` is atomic) whose name does not end in the target's
    suffix, so a glob such as `*.npy` never picks up an unfinished file. The file gets the permissions a plain
    `open(path, "w")` would give it (those of the file it replaces, else 0666 less the umask), not mkstemp's 0600,
    so other users and services can read features, lists and predictions.
    """
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    try:
        permissions = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        permissions = 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        os.fchmod(fd, permissions)
        with os.fdopen(fd, mode, **kwargs) as f:
            f.temporary_path = tmp  # where the data is until the block ends, for a caller that checks it there
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def prepare_output_dir(output_dir: str | os.PathLike, flag: str = "--output_dir") -> Path:
    """Creates `output_dir` if needed and checks that it is a writable folder, so a program fails before its work
    starts rather than at its first write. `flag` names the command-line flag in messages."""
    if not str(output_dir).strip():
        raise UserInputError(f"{flag}: empty path; give a folder for the outputs")
    output_dir = Path(output_dir)
    if output_dir.exists() and not output_dir.is_dir():
        raise UserInputError(f"{flag} {output_dir}: is a file; give a folder for the outputs")
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserInputError(f"{flag} {output_dir}: cannot create the folder ({error.strerror})") from None
    if not os.access(output_dir, os.W_OK | os.X_OK):
        raise UserInputError(f"{flag} {output_dir}: the folder is not writable")
    return output_dir


def save_npy(path: str | os.PathLike, array: np.ndarray) -> None:
    """Writes `array` to `path` in .npy format, atomically."""
    with atomic_write(path, "wb") as file:
        np.save(file, array)


def save_figure(path: str | os.PathLike, figure) -> None:
    """Writes a matplotlib `figure` as a PNG to `path`, atomically (matplotlib is imported by whoever draws it)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    with atomic_write(path, "wb") as file:
        file.write(buffer.getvalue())


def save_json(path: str | os.PathLike, data) -> None:
    """Writes `data` to `path` as indented JSON, atomically."""
    with atomic_write(path, "w", encoding="utf-8") as file:
        file.write(json.dumps(data, indent=2) + "\n")


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """--help keeps the description's line breaks (its usage examples) and shows every flag's default.

    A default of None is left to the help text, which says what it means ("default: the model's sampling_rate").
    """

    def _get_help_string(self, action):
        if action.default is None or action.required:
            return action.help
        return super()._get_help_string(action)


# The one log format of the command lines: time, level, logger and message (as the training log, HF's fields).
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: int = logging.INFO) -> None:
    """Logs of a command line on stderr in `LOG_FORMAT`, from `level` up."""
    logging.basicConfig(format=LOG_FORMAT, level=level)


class DeprecatedAlias(argparse.Action):
    """An old spelling of a flag, kept for existing scripts: sets the flag's value and prints one deprecation line."""

    def __init__(self, option_strings, dest, new_flag: str, **kwargs):
        super().__init__(option_strings, dest, help=argparse.SUPPRESS, **kwargs)
        self.new_flag = new_flag

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"{parser.prog}: warning: {option_string} is deprecated, use {self.new_flag}", file=sys.stderr)
        setattr(namespace, self.dest, values)


def add_output_dir_argument(parser: argparse.ArgumentParser, *old_flags: str, help: str) -> None:
    """`--output_dir`, every command line's output folder, and its old spellings `old_flags` (deprecated).

    Not `required` for argparse, so that an old spelling alone works: `require_output_dir` checks it after parsing.
    """
    parser.add_argument("--output_dir", default=None, help=f"{help} (required)")
    if old_flags:
        parser.add_argument(*old_flags, dest="output_dir", action=DeprecatedAlias, new_flag="--output_dir")


def require_output_dir(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.Namespace:
    if args.output_dir is None:
        parser.error("the following arguments are required: --output_dir")
    return args


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (0 or a negative number is refused, never read as "use the default")."""
    return _bounded_int(text, 1, "a positive integer")


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    return _bounded_int(text, 0, "an integer >= 0")


def _bounded_int(text: str, minimum: int, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be {what}, got {value}")
    return value


def run_cli(main, argv: list[str] | None = None) -> None:
    """Run a script's `main(argv)` for the command line: bad input ends in one line, not a traceback.

    A `ValueError` (our `UserInputError`, `ClipListError`, `VideoDecodeError`, `CheckpointError` and the argument
    checks all derive from it) prints `error: <message>` on stderr and exits with status 2, like argparse's usage
    errors. Anything else is a bug and keeps its traceback. Set ADHVIT_TRACEBACK=1 to see the traceback of a
    `ValueError` too. An integer returned by `main` is the exit status.
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
