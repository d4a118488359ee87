# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""`adhvit-train --help`: this package's flags first, each explained with its default, HF's after them."""

import sys

import pytest

from adhvit_hf.cli import run_havid


def help_text(program, monkeypatch, capsys) -> str:
    monkeypatch.setattr(sys, "argv", [program])
    with pytest.raises(SystemExit) as exit_info:
        run_havid.main(["--help"])
    assert exit_info.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("program", ["adhvit-train", "scripts/run_havid.py"])
def test_usage_names_the_program_the_user_typed(program, monkeypatch, capsys):
    assert (
        help_text(program, monkeypatch, capsys).splitlines()[0] == f"usage: {program} [CONFIG.json] [--flag VALUE ...]"
    )


def test_own_flags_come_first_each_with_help_and_default(monkeypatch, capsys):
    text = help_text("adhvit-train", monkeypatch, capsys)
    titles = [line[:-1] for line in text.splitlines() if line and not line.startswith(" ") and line.endswith(":")]
    assert titles == [
        "options",
        "model",
        "data and augmentation",
        "alternating training",
        "Hugging Face TrainingArguments",
    ]
    parser = run_havid.build_parser()
    for group in parser._action_groups[2:5]:
        for action in group._group_actions:
            assert action.help, f"--{action.dest} has no help"
    assert "--num-frames NUM_FRAMES\n                        Frames per clip fed to the model. (default: 16)" in text
    assert "  --no_auto_resume, --no-auto-resume\n                        Sets --auto_resume to False.\n" in text
    assert "--lr (--base_lr)" in " ".join(text.split())
    assert text.index("--layer_decay") < text.index("Hugging Face TrainingArguments:") < text.index("--adam_beta1")
