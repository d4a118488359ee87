"""Writers that never leave a file looking complete when it is not, and the preemption signal handler."""

import os
import re
import signal
from pathlib import Path
from types import SimpleNamespace

import pytest
from transformers import TrainerControl, TrainerState

from adhvit_hf.training.preemption import PreemptionCallback, resume_message
from adhvit_hf.utils import atomic_write


def test_atomic_write_keeps_the_old_file_when_the_writer_fails(tmp_path):
    target = tmp_path / "train_list_video.txt"
    target.write_text("old 1\n")
    with pytest.raises(RuntimeError, match="disk full"):
        with atomic_write(str(target)) as handle:
            handle.write("new 2\n")
            raise RuntimeError("disk full")
    assert target.read_text() == "old 1\n"
    assert os.listdir(tmp_path) == ["train_list_video.txt"]

    with atomic_write(str(target)) as handle:
        handle.write("new 2\n")
    assert target.read_text() == "new 2\n"
    assert os.listdir(tmp_path) == ["train_list_video.txt"]


def test_first_signal_asks_for_a_checkpoint_the_second_stops_at_once():
    callback = PreemptionCallback()
    args, state, control = SimpleNamespace(world_size=1), TrainerState(global_step=41), TrainerControl()
    previous = signal.getsignal(signal.SIGINT)
    callback.on_train_begin(args, state, control)

    signal.raise_signal(signal.SIGINT)  # Ctrl-C: no KeyboardInterrupt, the step finishes
    assert callback.signal_name == "SIGINT"
    assert not control.should_save
    state.global_step = 42
    callback.on_step_end(args, state, control)
    assert (control.should_save, control.should_training_stop, control.should_evaluate) == (True, True, False)
    assert callback.stopped_at_step == 42

    with pytest.raises(KeyboardInterrupt):  # the second Ctrl-C does not wait for the checkpoint
        signal.raise_signal(signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is previous


def test_no_signal_changes_nothing_and_handlers_are_restored():
    callback = PreemptionCallback()
    args, state, control = SimpleNamespace(world_size=1), TrainerState(global_step=3), TrainerControl()
    previous = signal.getsignal(signal.SIGTERM)
    callback.on_train_begin(args, state, control)
    assert signal.getsignal(signal.SIGTERM) is not previous
    callback.on_step_end(args, state, control)
    assert (control.should_save, control.should_training_stop) == (False, False)
    callback.on_train_end(args, state, control)
    assert signal.getsignal(signal.SIGTERM) is previous
    assert callback.signal_name is None


def test_resume_message_without_auto_resume():
    assert resume_message("SIGTERM", "out", 7, auto_resume=False) == (
        "training stopped by SIGTERM at step 7; checkpoint saved in out/checkpoint-7. To resume, rerun the same "
        "command without --no_auto_resume, or add --resume_from_checkpoint out/checkpoint-7"
    )


def test_every_row_of_the_faults_table_names_an_existing_test():
    docs = Path(__file__).parents[1] / "docs" / "faults.md"
    rows = [line for line in docs.read_text().splitlines() if line.startswith("| ") and not line.startswith("| case")]
    rows = [row for row in rows if not row.startswith("| output |")]
    assert len(rows) > 40
    for row in rows:
        references = re.findall(r"`([a-z_]+)::(test_[a-z0-9_]+)`", row)
        assert references, f"no test named in: {row}"
        for module, test in references:
            source = (Path(__file__).parent / f"test_{module}.py").read_text()
            assert f"def {test}(" in source, f"{module}::{test} does not exist"
