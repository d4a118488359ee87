# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""One bf16 rule for training, predict, extract and the pipeline: the CPU's native bf16 (AMX or AVX512-BF16)."""

import pytest
import torch

from adhvit_hf import pipeline_adhvit
from adhvit_hf.precision import Precision, autocast_precision, cpu_bf16_instructions
from adhvit_hf.training import AlternatingTrainingArguments


CPUS = {  # (AMX tiles, AVX512-BF16) -> what the rule says
    (True, True): "AMX",
    (True, False): "AMX",
    (False, True): "AVX512-BF16",  # AMD EPYC (Zen 4): the case the AMX-only rule left in fp32
    (False, False): None,
}


@pytest.fixture(params=list(CPUS), ids=lambda cpu: f"amx={cpu[0]},avx512_bf16={cpu[1]}")
def cpu(request, monkeypatch):
    amx, avx512_bf16 = request.param
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)
    return request.param


def test_cpu_bf16_is_decided_by_amx_or_avx512_bf16(cpu):
    instructions = CPUS[cpu]
    assert cpu_bf16_instructions() == instructions
    if instructions:
        assert autocast_precision("cpu") == Precision(True, f"the CPU has {instructions}; --auto_bf16 False for fp32")
        assert autocast_precision("cpu").describe().startswith("bf16 autocast (the CPU has")
    else:
        assert autocast_precision("cpu").describe() == (
            "fp32 (the CPU has neither AMX nor AVX512-BF16, so bf16 would be emulated and slower)"
        )
    assert autocast_precision("cpu", auto_bf16=False) == Precision(False, "--auto_bf16 False")


def test_the_pipelines_copy_of_the_rule_agrees(cpu):
    # pipeline_adhvit.py ships as remote code and carries its own three-line copy of the rule
    assert pipeline_adhvit.bf16_autocast_pays(torch.device("cpu")) == autocast_precision("cpu").bf16


def test_training_uses_the_rule_and_explicit_flags_win(cpu, tmp_path):
    args = AlternatingTrainingArguments(output_dir=str(tmp_path), report_to="none")
    assert (args.bf16, args.precision) == (autocast_precision("cpu").bf16, autocast_precision("cpu"))
    assert AlternatingTrainingArguments(output_dir=str(tmp_path), report_to="none", auto_bf16=False).bf16 is False
    forced = AlternatingTrainingArguments(output_dir=str(tmp_path), report_to="none", auto_bf16=False, bf16=True)
    assert (forced.bf16, forced.precision.reason) == (True, "--bf16")
