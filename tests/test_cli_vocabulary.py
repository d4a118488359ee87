# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""One name per concept on every command line: `--output_dir` is the output folder; old spellings still work, each
with one deprecation line."""

import pytest

from adhvit_hf.cli import convert, extract_features, make_demo_data, resize_videos


OLD_SPELLINGS = [
    (extract_features.parse_args, ["--model", "m", "--videos", "v", "--out", "OUT"], "--out is deprecated"),
    (make_demo_data.parse_args, ["--out", "OUT"], "--out is deprecated"),
    (convert.parse_args, ["--checkpoint", "c.pth", "--output-dir", "OUT"], "--output-dir is deprecated"),
    (
        resize_videos.parse_args,
        ["SRC", "OUT", "--short_side", "16"],
        "the output folder as a second argument is deprecated",
    ),
]


@pytest.mark.parametrize("parse_args, argv, deprecated", OLD_SPELLINGS, ids=lambda x: getattr(x, "__module__", None))
def test_old_output_folder_spellings_work_with_one_deprecation_line(parse_args, argv, deprecated, capsys):
    assert parse_args(argv).output_dir == "OUT"
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].endswith(f": warning: {deprecated}, use --output_dir"), lines


@pytest.mark.parametrize("parse_args, argv, deprecated", OLD_SPELLINGS, ids=lambda x: getattr(x, "__module__", None))
def test_output_dir_is_the_name_and_it_is_required(parse_args, argv, deprecated, capsys):
    old = "OUT" if "second argument" in deprecated else argv[argv.index("OUT") - 1]
    new_argv = [arg if arg != old else "--output_dir" for arg in argv]
    if "second argument" in deprecated:
        new_argv = [argv[0], "--output_dir", *argv[1:]]
    assert parse_args(new_argv).output_dir == "OUT"
    assert capsys.readouterr().err == ""
    without = [arg for arg in new_argv if arg not in ("--output_dir", "OUT")]
    with pytest.raises(SystemExit) as exit_info:
        parse_args(without)
    assert exit_info.value.code == 2
    assert "the following arguments are required: --output_dir" in capsys.readouterr().err


def test_two_output_folders_are_refused(capsys):
    with pytest.raises(SystemExit):
        resize_videos.parse_args(["SRC", "OLD", "--output_dir", "NEW", "--short_side", "16"])
    assert "error: two output folders: OLD and --output_dir NEW" in capsys.readouterr().err
