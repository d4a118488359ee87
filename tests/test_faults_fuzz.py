# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Fuzzing: random list lines and command lines give a parsed result or our clear error, nothing else.

Every command-line program (train's argument parsing, predict, extract, make_demo_data, prepare_havid, convert) is
run on random flag values: each case succeeds or ends in one `error:` line with exit status 2, never a traceback.
"""

import contextlib
import io
import os

import pytest
from helpers.havid import polyphony_tree
from helpers.models import save_stock_videomae, save_tiny_model
from helpers.videos import noise_frames, write_video
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from adhvit_hf.cli import extract_features, predict
from adhvit_hf.cli.run_havid import parse_args
from adhvit_hf.data.clip_list import ClipListError, parse_clip_line, read_clip_list
from adhvit_hf.training.original_flags import (
    ORIGINAL_FLAGS,
    ORIGINAL_IGNORED_SWITCHES,
    ORIGINAL_IGNORED_WITH_VALUE,
    ORIGINAL_SWITCHES,
)
from adhvit_hf.utils import run_cli


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
        records = read_clip_list(str(list_path), None, num_labels=5, hand="rh")
    except ClipListError as error:
        assert str(error).startswith(f"{list_path}")
        return
    assert records and all(0 <= r.label < 5 and os.path.isfile(r.video) for r in records)


KNOWN_FLAGS = sorted(
    {*ORIGINAL_FLAGS, *ORIGINAL_SWITCHES, *ORIGINAL_IGNORED_SWITCHES, *ORIGINAL_IGNORED_WITH_VALUE}
    | {
        "--device",
        "--opt_betas",
        "--opt",
        "--alternation_steps",
        "--num_frames",
        "--flip",
        "--aa",
        "--mixup",
        "--num_train_epochs",
        "--save_steps",
        "--one_stream",
        "--cutmix_minmax",
        "--alternation_strategy",
        "--seed",
    }
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


# ---- every command-line program: random flag values end in success or one clear `error:` line ----
# Bounded, so the whole pass stays a few seconds per program; a case whose flags are already invalid stops before
# any model is loaded.
# derandomize: the same examples on every run, so CI gives the same answer as the last local run
CLI_FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
numbers = st.one_of(st.integers(-3, 4).map(str), st.sampled_from(["0", "-0", "1.5", "abc", "", "1e3", "99999999999"]))


def run_program(main, argv) -> int:
    """Exit status of `run_cli(main, argv)`; an exception that is not a user error escapes (a traceback: a failure)."""
    err = io.StringIO()
    code = 0
    with contextlib.redirect_stderr(err):
        try:
            run_cli(main, argv)
        except SystemExit as exit_info:
            code = exit_info.code or 0
    text = err.getvalue()
    assert "Traceback" not in text
    if code == 2:
        assert [line for line in text.splitlines() if line.startswith("error: ") or ": error: " in line], text
    return code


def flag_values(flags: dict) -> st.SearchStrategy[list[str]]:
    """Any subset of `flags` ({flag: value strategy}), each with a drawn value, in random order."""
    return st.lists(
        st.sampled_from(sorted(flags)).flatmap(lambda flag: flags[flag].map(lambda value: [flag, value])),
        max_size=4,
        unique_by=lambda pair: pair[0],
    ).map(lambda pairs: [token for pair in pairs for token in pair])


@pytest.fixture(scope="module")
def inference_inputs(tmp_path_factory):
    """Model folders (good, missing, without config.json, another architecture) and videos (good, broken, ...)."""
    root = tmp_path_factory.mktemp("fuzz")
    save_tiny_model(root / "model")
    save_stock_videomae(root / "videomae")
    (root / "empty").mkdir()
    (root / "broken.mp4").write_bytes(b"\x00" * 100)
    good = write_video(root / "good.mp4", noise_frames(9))
    models = [str(root / name) for name in ("model", "model", "videomae", "empty", "missing")]
    videos = [good, good, str(root / "broken.mp4"), str(root / "empty"), "https://x.org/v.mp4", str(root / "no.mp4")]
    return root, models, videos


def test_fuzz_predict_flags(inference_inputs, tmp_path_factory):
    root, models, videos = inference_inputs
    flags = {
        "--top_k": numbers,
        "--batch_size": numbers,
        "--test_num_segment": numbers,
        "--test_num_crop": numbers,
        "--device": st.sampled_from(["cpu", "cuda", "cuda:9", "gpu", ""]),
    }

    @CLI_FUZZ
    @given(
        model=st.sampled_from(models),
        chosen=st.lists(st.sampled_from(videos), min_size=1, max_size=3),
        extra=flag_values(flags),
        as_json=st.booleans(),
    )
    def case(model, chosen, extra, as_json):
        argv = [*chosen, "--model", model, *extra, *(["--json"] if as_json else [])]
        if "--device" not in extra:
            argv += ["--device", "cpu"]
        assert run_program(predict.main, argv) in (0, 1, 2)

    case()


def test_fuzz_extract_flags(inference_inputs, tmp_path_factory):
    root, models, videos = inference_inputs
    flags = {
        "--stride": numbers,
        "--batch_size": numbers,
        "--num_workers": st.sampled_from(["0", "1", "-1", "x"]),
        "--device": st.sampled_from(["cpu", "cuda", "gpu"]),
        "--backend": st.sampled_from(["auto", "pyav", "x"]),
        "--output_dir": st.sampled_from([str(root / "out"), str(root / "good.mp4"), "/proc/no/such"]),
    }

    @CLI_FUZZ
    @given(
        model=st.sampled_from(models),
        source=st.sampled_from([*videos, str(root)]),
        extra=flag_values(flags),
        overwrite=st.booleans(),
    )
    def case(model, source, extra, overwrite):
        argv = ["--model", model, "--videos", source, *extra, *(["--overwrite"] if overwrite else [])]
        argv += [] if "--output_dir" in extra else ["--output_dir", str(root / "out")]
        argv += [] if "--device" in extra else ["--device", "cpu"]
        argv += [] if "--num_workers" in extra else ["--num_workers", "0"]
        assert run_program(extract_features.main, argv) in (0, 1, 2)

    case()


def test_fuzz_make_demo_data_flags(tmp_path, monkeypatch):
    from adhvit_hf.cli import make_demo_data
    from adhvit_hf.data.demo import make_demo_dataset

    # The real writer on one video per split, so every case is quick.
    monkeypatch.setattr(
        make_demo_data,
        "make_demo_dataset",
        lambda out, seed: make_demo_dataset(out, seed, split_sizes={"train": 1, "val": 1, "test": 1}),
    )
    (tmp_path / "a_file").write_text("")

    @CLI_FUZZ
    @given(
        out=st.sampled_from([str(tmp_path / "demo"), str(tmp_path / "a_file"), str(tmp_path / "a_file" / "x"), ""]),
        extra=flag_values({"--seed": numbers}),
    )
    def case(out, extra):
        assert run_program(make_demo_data.main, ["--output_dir", out, *extra]) in (0, 2)

    case()


def test_fuzz_prepare_havid_flags(tmp_path):
    from adhvit_hf.cli import prepare_havid

    polyphony_tree(tmp_path / "havid")
    flags = {
        "--view": numbers,
        "--split": numbers,
        "--min_segment_length": numbers,
        "--clip_length": numbers,
        "--clips_per_video": numbers,
        "--seed": numbers,
        "--level": st.sampled_from(["pt", "aa", "x"]),
        "--extraction_method": st.sampled_from(["segment", "clip", "x"]),
        "--video_dir": st.sampled_from([str(tmp_path / "havid" / "videos"), str(tmp_path / "none")]),
    }

    @CLI_FUZZ
    @given(
        root=st.sampled_from([str(tmp_path / "havid"), str(tmp_path / "missing"), str(tmp_path)]),
        extra=flag_values(flags),
    )
    def case(root, extra):
        argv = ["--annotation_root", root, "--output_dir", str(tmp_path / "lists"), *extra]
        assert run_program(prepare_havid.main, argv) in (0, 2)

    case()


def test_fuzz_convert_flags(tmp_path):
    import torch
    from helpers.models import videomae_v2_state_dict

    from adhvit_hf.cli import convert

    torch.save(videomae_v2_state_dict(), tmp_path / "ckpt.pth")
    (tmp_path / "junk.pth").write_bytes(b"junk")
    flags = {
        "--lh_num_labels": numbers,
        "--rh_num_labels": numbers,
        "--num_frames": numbers,
        "--image_size": numbers,
        "--num_attention_heads": numbers,
        "--model_key": st.sampled_from(["model|module", "", "x"]),
        "--model_prefix": st.sampled_from(["", "x."]),
    }

    @CLI_FUZZ
    @given(
        checkpoint=st.sampled_from([str(tmp_path / n) for n in ("ckpt.pth", "ckpt.pth", "junk.pth", "none.pth")]),
        extra=flag_values(flags),
    )
    def case(checkpoint, extra):
        argv = ["--checkpoint", checkpoint, "--output_dir", str(tmp_path / "out"), *extra]
        assert run_program(convert.main, argv) in (0, 2)

    case()
