# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Running the command lines in tests: the one `error:` line, a tiny training run's flags, torchrun on two ranks."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from adhvit_hf.utils import run_cli

from .models import TINY_MODEL


HELPERS = Path(__file__).parent


def cli_error(main, argv, capsys) -> str:
    """The one `error:` line `run_cli(main, argv)` prints, after checking it exits with status 2 and no traceback."""
    with pytest.raises(SystemExit) as exit_info:
        run_cli(main, argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2, err[-2000:]
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("error: ") or ": error: " in line]
    assert len(lines) == 1, err[-2000:]
    return lines[0]


def tiny_run_args(data_root, output_dir, **overrides) -> list[str]:
    """run_havid arguments of a tiny model on the demo data: a few seconds of CPU per epoch."""
    args = {
        "lh_data_path": f"{data_root}/lh",
        "rh_data_path": f"{data_root}/rh",
        "output_dir": str(output_dir),
        "model": "vit_small_patch16_224",
        "config_overrides": TINY_MODEL,
        "lh_num_classes": 6,
        "rh_num_classes": 6,
        "input_size": 32,
        "short_side_size": 32,
        "num_frames": 4,
        "sampling_rate": 2,
        "num_sample": 1,
        "test_num_segment": 2,
        "test_num_crop": 1,
        "batch_size": 4,
        "per_device_eval_batch_size": 4,
        "learning_rate": 1e-3,
        "warmup_steps": 2,
        "alternation_steps": 2,
        "num_train_epochs": 1,
        "num_workers": 0,
        "report_to": "none",
        "eval_strategy": "no",
        "save_strategy": "no",
        "do_eval": "False",
        "no_auto_resume": None,
        "seed": 0,
    }
    args.update(overrides)
    argv = []
    for name, value in args.items():  # a list value gives several (--cameras 0 1 2)
        values = [] if value is None else value if isinstance(value, list) else [value]
        argv += [f"--{name}", *map(str, values)]
    return argv


def free_port() -> int:
    # torchrun's --master_port 0 leaves the workers' static rendezvous waiting on port 0 (torch 2.14).
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def subprocess_env(**extra) -> dict:
    """This environment with the helpers importable (`helpers.X`) and this checkout's PYTHONPATH kept."""
    path = os.pathsep.join(filter(None, [str(HELPERS.parent), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, **extra}


def torchrun(script: str, args: list, timeout: int = 600) -> subprocess.CompletedProcess:
    """Runs `tests/helpers/{script}` on two CPU ranks (gloo) with torchrun."""
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_port",
        str(free_port()),
        str(HELPERS / script),
        *map(str, args),
    ]
    env = subprocess_env(OMP_NUM_THREADS="1")
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)


def run_two_ranks(out_dir, argv) -> list[dict]:
    """Runs ddp_worker.py on 2 CPU ranks; returns each rank's record (moved heads, weight digest, world size)."""
    result = torchrun("ddp_worker.py", [out_dir, *argv])
    assert result.returncode == 0, result.stderr[-3000:]
    return [json.loads((Path(out_dir) / f"rank{r}.json").read_text()) for r in (0, 1)]
