"""Two DDP processes on the CPU (gloo): same hand at every step on both ranks, identical final weights."""

import json
import os
import socket
import subprocess
import sys

from conftest import tiny_run_args

TESTS = os.path.dirname(os.path.abspath(__file__))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_ranks_alternate_together_and_end_identical(demo_data, tmp_path):
    # use_cpu: on a machine without GPUs transformers runs torchrun ranks as separate single-process jobs otherwise
    argv = tiny_run_args(
        demo_data, tmp_path / "weights", max_steps=6, alternation_steps=2, weight_decay=0.1, use_cpu="True"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": TESTS}
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(free_port()),
        os.path.join(TESTS, "ddp_worker.py"), str(tmp_path), *argv,
    ]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0]["world_size"] == ranks[1]["world_size"] == 2
    expected = [[("lh", "rh")[(step // 2) % 2]] for step in range(6)]
    assert ranks[0]["moved"] == ranks[1]["moved"] == expected
    assert ranks[0]["weights"] == ranks[1]["weights"]
