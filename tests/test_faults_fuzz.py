"""Fuzzing: random list lines and command lines give a parsed result or our clear error, nothing else."""

import os

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from adhvit_hf.data.clip_list import ClipListError, parse_clip_line, read_clip_list
from adhvit_hf.cli.run_havid import parse_args
from adhvit_hf.training.arguments import (
    ORIGINAL_FLAGS,
    ORIGINAL_IGNORED_SWITCHES,
    ORIGINAL_IGNORED_WITH_VALUE,
    ORIGINAL_SWITCHES,
)

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

tokens = st.one_of(
    st.integers(-10, 10**12).map(str),
    st.sampled_from(["", "-", "-0", "+3", "1.5", "1e3", "０", "٣", "nan", "#", "a b", "\t", "x.mp4", "v/ö ü.mp4"]),
    st.text(min_size=1, max_size=12),
)
lines = st.lists(tokens, min_size=1, max_size=6).map(" ".join).map(str.strip).filter(bool)


@FUZZ
@given(line=lines)
def test_list_line_parses_or_names_the_line(line):
    try:
        path, start, end, label = parse_clip_line(line, "list.txt:7")
    except ClipListError as error:
        assert str(error).startswith("list.txt:7: ")
        return
    assert isinstance(label, int) and path and line.startswith(path)
    assert (start, end) == (None, None) or 0 <= start <= end


@FUZZ
@given(content=st.lists(st.one_of(lines.map(str.encode), st.binary(max_size=30)), max_size=6).map(b"\n".join))
def test_list_file_reads_or_names_the_file(tmp_path, content):
    list_path = tmp_path / "train_list_video.txt"
    list_path.write_bytes(content)
    (tmp_path / "x.mp4").write_bytes(b"0")
    try:
        records = read_clip_list(str(list_path), None, num_classes=5, hand="rh")
    except ClipListError as error:
        assert str(error).startswith(f"{list_path}")
        return
    assert records and all(0 <= r.label < 5 and os.path.isfile(r.video) for r in records)


KNOWN_FLAGS = sorted(
    {*ORIGINAL_FLAGS, *ORIGINAL_SWITCHES, *ORIGINAL_IGNORED_SWITCHES, *ORIGINAL_IGNORED_WITH_VALUE}
    | {"--device", "--opt_betas", "--opt", "--alternation_steps", "--num_frames", "--flip", "--aa", "--mixup",
       "--num_train_epochs", "--save_steps", "--one_stream", "--cutmix_minmax", "--alternation_strategy", "--seed"}
)
values = st.one_of(
    st.integers(-5, 300).map(str),
    st.sampled_from(["cpu", "cuda", "adamw", "sgd", "0.9", "1e-3", "True", "false", "none", "swap_hands", "joint"]),
    st.text(max_size=8),
)
# Flags each followed by zero, one or two values (a switch, a flag with its value, a stray token).
argvs = st.lists(
    st.tuples(st.sampled_from(KNOWN_FLAGS), st.sampled_from(["", "="]), st.lists(values, max_size=2)).map(
        lambda t: [t[0] + t[1] + (t[2][0] if t[1] and t[2] else ""), *t[2][bool(t[1]) :]]
    ),
    max_size=5,
).map(lambda groups: [token for group in groups for token in group])


@FUZZ
@given(extra=argvs)
@example(extra=["--opt"])
@example(extra=["--device"])
@example(extra=["--opt="])
def test_command_line_parses_or_fails_clearly(tmp_path, extra):
    argv = ["--lh_data_path", "lh", "--rh_data_path", "rh", "--output_dir", str(tmp_path), "--use_cpu", "True", *extra]
    try:
        model_args, data_args, training_args = parse_args(argv)
    except ValueError as error:  # our checks, HF's TrainingArguments checks
        assert str(error)
    except SystemExit as exit_info:  # argparse: usage line and exit status 2
        assert exit_info.code == 2
    else:
        assert training_args.alternation_steps > 0
        assert data_args.lh_data_path == "lh"
