# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""The private `Trainer` surface `AlternatingTrainer` still relies on, pinned: each test fails when a transformers
upgrade changes the method, attribute or call order it names. Everything else goes through public hooks."""

import inspect
import re

from transformers import Trainer

from adhvit_hf.training.trainer import AlternatingTrainer


def parameters(method) -> list[str]:
    return list(inspect.signature(method).parameters)


def source(method) -> str:
    return inspect.getsource(method)


def test_save_checkpoint_saves_through_save_model_pushes_then_rotates_by_save_total_limit():
    # CompleteCheckpointMixin overrides it: it clears save_total_limit around it and rotates after the marker;
    # HubPushMixin.save_model adds the remote code to every checkpoint.
    assert parameters(Trainer._save_checkpoint) == ["self", "model", "trial"]
    text = source(Trainer._save_checkpoint)
    assert "self.save_model(output_dir, _internal_call=True)" in text
    assert re.search(r"rotate_checkpoints\([^)]*save_total_limit=self\.args\.save_total_limit", text)
    assert text.index("self._push_from_checkpoint(output_dir)") < text.index("rotate_checkpoints(")


def test_push_from_checkpoint_takes_the_checkpoint_folder():
    # HubPushMixin overrides it: the remote code and card go first, and an unmarked checkpoint waits for its marker.
    assert parameters(Trainer._push_from_checkpoint) == ["self", "checkpoint_folder"]
    assert "if self.args.push_to_hub:\n            self._push_from_checkpoint(output_dir)" in source(
        Trainer._save_checkpoint
    )


def test_get_output_dir_takes_the_trial():
    assert parameters(Trainer._get_output_dir) == ["self", "trial"]


def test_load_from_checkpoint_takes_the_folder_and_an_optional_model():
    # load_checkpoint_weights (--eval --resume CKPT) loads weights as a resumed run does.
    signature = inspect.signature(Trainer._load_from_checkpoint)
    assert list(signature.parameters) == ["self", "resume_from_checkpoint", "model"]
    assert signature.parameters["model"].default is None


def test_prepare_inputs_takes_the_batch():
    # prediction_step moves the evaluation batch to the device as Trainer.prediction_step does.
    assert parameters(Trainer._prepare_inputs) == ["self", "inputs"]


def test_evaluate_tracks_memory_with_the_memory_tracker():
    # AlternatingTrainer.evaluate runs both hands' loops where Trainer.evaluate runs one, with the same tracker.
    text = source(Trainer.evaluate)
    assert "self._memory_tracker.start()" in text
    assert "self._memory_tracker.stop_and_update_metrics(output.metrics)" in text
    ours = source(AlternatingTrainer._evaluate_hands_and_log)
    assert "self._memory_tracker.start()" in ours and "self._memory_tracker.stop_and_update_metrics(metrics)" in ours


def test_the_save_decision_follows_evaluate_and_the_best_metric():
    # SaveNewBest asks for the save in on_evaluate (called by evaluate): HF must decide on saving after it, without
    # resetting should_save in between (but for save_strategy "best").
    text = source(Trainer._maybe_log_save_evaluate)
    evaluate, best = text.index("self._evaluate(trial"), text.index("self._determine_best_metric(")
    save = text.index("if self.control.should_save:\n            self._save_checkpoint(model, trial)")
    assert evaluate < best < save
    assert text.count("self.control.should_save =") == 1  # the save_strategy "best" line
    assert "self.evaluate(" in source(Trainer._evaluate)


def test_a_resumed_state_is_loaded_before_on_train_begin():
    # BestCheckpointPath fixes the resumed state's best_model_checkpoint in on_train_begin.
    text = source(Trainer._inner_training_loop)
    assert text.index("self._init_training_state(") < text.index("self.callback_handler.on_train_begin(")
    assert "TrainerState.load_from_json(" in source(Trainer._init_training_state)


def test_the_training_dataloader_options_are_all_honoured():
    # get_train_dataloader builds its own DataLoader (the alternating batch sampler): a new option of HF's must be
    # added there too.
    text = source(Trainer._get_dataloader)
    options = set(re.findall(r'"(\w+)": self\.args\.(\w+)', text))
    assert options == {
        ("num_workers", "dataloader_num_workers"),
        ("pin_memory", "dataloader_pin_memory"),
        ("persistent_workers", "dataloader_persistent_workers"),
        ("multiprocessing_context", "dataloader_multiprocessing_context"),
        ("prefetch_factor", "dataloader_prefetch_factor"),
        ("in_order", "dataloader_in_order"),
    }
    # (evaluation only: the alternating batch sampler drops the last partial batch of a hand, as the original)
    assert 'dataloader_params["drop_last"] = self.args.dataloader_drop_last' in text
    assert "partial(\n                    seed_worker" in text
    ours = source(AlternatingTrainer.get_train_dataloader)
    for option in ("num_workers", "pin_memory", "persistent_workers", "multiprocessing_context", "prefetch_factor"):
        assert f"args.dataloader_{option}" in ours, option
    assert "in_order=args.dataloader_in_order" in ours and "partial(seed_worker" in ours


def test_a_model_sharded_before_training_is_left_to_itself():
    # Fsdp2TrainerMixin shards the model itself and sets is_distributed_loading_by_transformers: the Trainer then
    # prepares it for autocast only (no DDP wrap, no second sharding) and keeps every rank in _save; it overrides the
    # checkpoint methods below for the sharded optimizer state and hides fsdp_plugin_args from the Accelerator.
    text = source(Trainer._prepare_for_training)
    assert "if self.is_distributed_loading_by_transformers:" in text
    assert "self.accelerator.prepare_model(model, device_placement=False, evaluation_mode=True)" in text
    assert "if not self.args.should_save and not self.is_distributed_loading_by_transformers:" in source(Trainer._save)
    assert parameters(Trainer._save) == ["self", "output_dir", "state_dict"]
    assert parameters(Trainer._save_optimizer_and_scheduler) == ["self", "output_dir"]
    assert parameters(Trainer._load_optimizer_and_scheduler) == ["self", "checkpoint"]
    assert parameters(Trainer._load_best_model) == ["self"]
    assert "FullyShardedDataParallelPlugin(**self.args.fsdp_plugin_args)" in source(
        Trainer.create_accelerator_and_postprocess
    )
