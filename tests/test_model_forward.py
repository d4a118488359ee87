# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
import inspect

import pytest
import torch
import torch.nn.functional as F
from helpers.models import tiny_config, tiny_model, tiny_pixels
from transformers import Trainer, TrainingArguments
from transformers.processing_utils import Unpack
from transformers.utils import TransformersKwargs

from adhvit_hf import AdhVitDualHandClassifierOutput, AdhVitForDualHandClassification, AdhVitModel, AdhVitOutput
from adhvit_hf.modeling_adhvit import drop_path_rates


@pytest.fixture(scope="module")
def model():
    return tiny_model()


@pytest.fixture(scope="module")
def pixels():
    return tiny_pixels()


def test_both_heads_shapes_and_pooled_feature(model, pixels):
    with torch.no_grad():
        output = model(pixels)
    assert isinstance(output, AdhVitDualHandClassifierOutput) and AdhVitOutput is AdhVitDualHandClassifierOutput
    assert output.loss is None
    assert output.lh_logits.shape == (2, 3)
    assert output.rh_logits.shape == (2, 4)
    tokens = model.videomae(pixels).last_hidden_state
    assert tokens.shape == (2, 2 * 2 * 2, 32)  # (T / tubelet) * (H / patch) * (W / patch) tokens
    torch.testing.assert_close(output.pooled_output, model.fc_norm(tokens.mean(1)), rtol=0, atol=0)


@pytest.mark.parametrize("hand, inactive", [("lh", "rh_logits"), ("rh", "lh_logits")])
def test_single_hand_runs_only_its_head(model, pixels, hand, inactive):
    with torch.no_grad():
        both = model(pixels)
        single = model(pixels, hand=hand)
    assert getattr(single, inactive) is None
    active = f"{hand}_logits"
    assert torch.equal(getattr(single, active), getattr(both, active))
    assert torch.equal(single.pooled_output, both.pooled_output)


def test_inactive_head_gets_no_gradient(pixels):
    model = tiny_model().train()
    model(pixels, lh_labels=torch.tensor([0, 2]), hand="lh").loss.backward()
    assert model.lh_classifier.weight.grad is not None
    assert model.rh_classifier.weight.grad is None
    assert model.rh_classifier.bias.grad is None


def test_hard_label_loss_is_cross_entropy(model, pixels):
    lh_labels, rh_labels = torch.tensor([2, 0]), torch.tensor([1, 3])
    with torch.no_grad():
        output = model(pixels, lh_labels=lh_labels, rh_labels=rh_labels)
    expected = F.cross_entropy(output.lh_logits, lh_labels) + F.cross_entropy(output.rh_logits, rh_labels)
    torch.testing.assert_close(output.loss, expected)
    # one hand only
    with torch.no_grad():
        lh_only = model(pixels, lh_labels=lh_labels, hand="lh")
    torch.testing.assert_close(lh_only.loss, F.cross_entropy(output.lh_logits, lh_labels))


def test_ignored_labels_leave_the_mean(model, pixels):
    with torch.no_grad():
        output = model(pixels, rh_labels=torch.tensor([-100, 3]))
    expected = -F.log_softmax(output.rh_logits[1], dim=-1)[3]
    torch.testing.assert_close(output.loss, expected)


def test_all_ignored_labels_add_nothing_and_never_nan(pixels):
    model = tiny_model().train()
    output = model(pixels, lh_labels=torch.tensor([-100, -100]), hand="lh")
    assert output.loss.item() == 0.0
    output.loss.backward()  # still attached to the graph, so a Trainer step does not fail
    assert torch.count_nonzero(model.lh_classifier.weight.grad) == 0

    with torch.no_grad():
        mixed = model.eval()(pixels, lh_labels=torch.tensor([-100, -100]), rh_labels=torch.tensor([1, 2]))
    torch.testing.assert_close(mixed.loss, F.cross_entropy(mixed.rh_logits, torch.tensor([1, 2])))


def test_soft_targets_give_soft_cross_entropy(model, pixels):
    targets = torch.tensor([[0.7, 0.2, 0.1], [0.0, 0.5, 0.5]])
    with torch.no_grad():
        output = model(pixels, lh_labels=targets, hand="lh")
    expected = -(targets * output.lh_logits.log_softmax(-1)).sum(-1).mean()
    torch.testing.assert_close(output.loss, expected)
    # one-hot soft targets equal the hard-label loss
    with torch.no_grad():
        hard = model(pixels, lh_labels=torch.tensor([0, 2]), hand="lh")
        one_hot = model(pixels, lh_labels=F.one_hot(torch.tensor([0, 2]), 3).float(), hand="lh")
    torch.testing.assert_close(one_hot.loss, hard.loss)


def test_labels_for_a_head_that_does_not_run_are_refused(model, pixels):
    message = r"^rh_labels were given but hand='lh' runs only the lh head; pass hand=None or hand='rh'\.$"
    with pytest.raises(ValueError, match=message):
        model(pixels, rh_labels=torch.tensor([0, 1]), hand="lh")


@pytest.mark.parametrize(
    "labels, message",
    [
        (
            torch.tensor([[0.5, 0.5], [0.5, 0.5]]),
            r"lh_labels as soft targets must have shape \(batch, lh_num_labels\) = \(2, 3\), got \(2, 2\)\.",
        ),
        (torch.tensor([0, 1, 2]), r"lh_labels as class ids must have shape \(batch,\) = \(2,\), got \(3,\)\."),
    ],
)
def test_label_shapes_are_checked(model, pixels, labels, message):
    with pytest.raises(ValueError, match=message):
        model(pixels, lh_labels=labels)


def test_unknown_hand_is_refused(model, pixels):
    with pytest.raises(ValueError, match=r"^hand must be None, 'lh' or 'rh', got 'left'\.$"):
        model(pixels, hand="left")


def test_channels_first_layout_is_explained(model, pixels):
    with pytest.raises(ValueError) as error:
        model(pixels.permute(0, 2, 1, 3, 4))
    assert str(error.value) == (
        "pixel_values must have the layout (B, T, C, H, W) = (batch, 4, 3, 32, 32), got shape (2, 3, 4, 32, 32). "
        "It looks like (B, C, T, H, W): use pixel_values.permute(0, 2, 1, 3, 4)."
    )


@pytest.mark.parametrize("shape", [(2, 6, 3, 32, 32), (2, 4, 3, 48, 32), (4, 3, 32, 32)])
def test_wrong_frame_count_or_size_names_the_expected_layout(model, shape):
    message = (
        r"^pixel_values must have the layout \(B, T, C, H, W\) = \(batch, 4, 3, 32, 32\), got shape "
        + re_tuple(shape)
        + r"\.$"
    )
    with pytest.raises(ValueError, match=message):
        model(torch.zeros(shape))


def re_tuple(shape):
    return r"\(" + r", ".join(map(str, shape)) + r"\)"


def test_return_dict_false_gives_a_tuple(model, pixels):
    with torch.no_grad():
        output = model(pixels, lh_labels=torch.tensor([0, 1]), return_dict=False)
        reference = model(pixels, lh_labels=torch.tensor([0, 1]))
    assert isinstance(output, tuple) and len(output) == 4  # loss, lh_logits, rh_logits, pooled_output
    assert torch.equal(output[0], reference.loss) and torch.equal(output[2], reference.rh_logits)


MODEL_CLASSES = [AdhVitModel, AdhVitForDualHandClassification]
IMPLEMENTATIONS = ["sdpa", "eager"]


def model_of(model_class, implementation, **config_fields):
    """`model_class` with tiny_model's weights, the given attention implementation and config fields set after init."""
    model = model_class(tiny_config(attn_implementation=implementation)).eval()
    source = tiny_model()
    model.load_state_dict(source.state_dict() if model_class is not AdhVitModel else source.videomae.state_dict())
    for name, value in config_fields.items():
        setattr(model.config, name, value)
    return model


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("model_class", MODEL_CLASSES)
def test_config_output_hidden_states(pixels, model_class, implementation):
    model = model_of(model_class, implementation, output_hidden_states=True)
    with torch.no_grad():
        output = model(pixels)
        unset = model(pixels, output_hidden_states=False)  # an explicit argument wins over the config
    assert len(output.hidden_states) == 3  # the embeddings, then one per layer
    assert [tuple(state.shape) for state in output.hidden_states] == [(2, 8, 32)] * 3
    assert output.attentions is None and unset.hidden_states is None
    if model_class is AdhVitModel:
        assert torch.equal(output.hidden_states[-1], output.last_hidden_state)
    else:
        torch.testing.assert_close(output.pooled_output, model.fc_norm(output.hidden_states[-1].mean(1)))


def check_attentions(output, expected):
    assert len(output.attentions) == 2
    assert output.attentions[0].shape == (2, 2, 8, 8)  # (batch, heads, tokens, tokens)
    torch.testing.assert_close(output.attentions[0].sum(-1), torch.ones(2, 2, 8))
    for actual, wanted in zip(output.attentions, expected.attentions):
        torch.testing.assert_close(actual, wanted, rtol=0, atol=1e-6)
    assert output.hidden_states is None


@pytest.mark.parametrize("model_class", MODEL_CLASSES)
def test_config_output_attentions(pixels, model_class):
    model = model_of(model_class, "eager", output_attentions=True)
    with torch.no_grad():
        output = model(pixels)
        unset = model(pixels, output_attentions=False)  # an explicit argument wins over the config
    check_attentions(output, model_of(model_class, "eager")(pixels, output_attentions=True))
    assert unset.attentions is None


@pytest.mark.parametrize("model_class", MODEL_CLASSES)
def test_output_attentions_with_sdpa_gives_the_eager_probabilities(pixels, model_class):
    model = model_of(model_class, "sdpa")
    with torch.no_grad():
        output = model(pixels, output_attentions=True)
        plain = model(pixels)
    check_attentions(output, model_of(model_class, "eager")(pixels, output_attentions=True))
    assert plain.attentions is None
    # transformers itself refuses the config flag for sdpa and says what to do
    with pytest.raises(ValueError, match="Please set it to 'eager' instead"):
        model.config.output_attentions = True


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("model_class", MODEL_CLASSES)
def test_config_return_dict_false_gives_tuples(pixels, model_class, implementation):
    model = model_of(model_class, implementation, return_dict=False, output_hidden_states=True)
    reference = model_of(model_class, implementation)
    with torch.no_grad():
        output = model(pixels)
        expected = reference(pixels, output_hidden_states=True)
        as_dict = model(pixels, return_dict=True)  # an explicit argument wins over the config
    assert isinstance(output, tuple)
    if model_class is AdhVitModel:
        last_hidden_state, hidden_states = output
        assert torch.equal(last_hidden_state, expected.last_hidden_state)
    else:
        lh_logits, rh_logits, pooled_output, hidden_states = output  # no labels: no loss; None fields are left out
        assert torch.equal(lh_logits, expected.lh_logits) and torch.equal(rh_logits, expected.rh_logits)
        assert torch.equal(pooled_output, expected.pooled_output)
    assert len(hidden_states) == 3 and torch.equal(hidden_states[1], expected.hidden_states[1])
    assert not isinstance(as_dict, tuple) and len(as_dict.hidden_states) == 3


@pytest.mark.parametrize("model_class", MODEL_CLASSES)
def test_forward_declares_transformers_kwargs(model_class):
    parameters = inspect.signature(model_class.forward).parameters
    assert parameters["kwargs"].kind is inspect.Parameter.VAR_KEYWORD
    assert parameters["kwargs"].annotation == Unpack[TransformersKwargs]
    assert not {"output_hidden_states", "output_attentions", "return_dict"} & parameters.keys()


def test_trainer_keeps_scaling_the_loss_for_gradient_accumulation(tmp_path):
    # forward takes **kwargs; without accepts_loss_kwargs=False Trainer would pass num_items_in_batch and stop dividing
    # the (per-batch mean) loss by the accumulation steps
    trainer = Trainer(model=tiny_model(), args=TrainingArguments(output_dir=str(tmp_path), report_to=[]))
    assert trainer.model_accepts_loss_kwargs is False


def test_drop_path_rates_rise_linearly():
    assert drop_path_rates(0.3, 4) == pytest.approx([0.0, 0.1, 0.2, 0.3])
    assert drop_path_rates(0.3, 1) == [0.0]
    model = tiny_model(drop_path_rate=0.2, num_hidden_layers=3)
    assert [layer.drop_path.drop_prob for layer in model.videomae.encoder.layer] == pytest.approx([0.0, 0.1, 0.2])


def test_drop_path_is_random_in_train_and_off_in_eval(pixels):
    model = tiny_model(drop_path_rate=0.9, num_hidden_layers=4)
    with torch.no_grad():
        first, second = model(pixels).lh_logits, model(pixels).lh_logits
        assert torch.equal(first, second)
        model.train()
        torch.manual_seed(0)
        train_a = model(pixels).lh_logits
        torch.manual_seed(1)
        train_b = model(pixels).lh_logits
    assert not torch.allclose(train_a, train_b)
    # with drop path at zero, train mode is deterministic too (no dropout configured)
    plain = tiny_model(drop_path_rate=0.0).train()
    with torch.no_grad():
        assert torch.equal(plain(pixels).lh_logits, plain(pixels).lh_logits)


@pytest.mark.parametrize("init_scale", [None, 0.001, 0.5])
def test_heads_start_as_the_original_whatever_init_scale(init_scale):
    # the original ADH-ViT builds lh_head/rh_head after VideoMAE V2's --init_scale scaling: trunc-normal(0.02), bias 0
    torch.manual_seed(0)
    fields = {} if init_scale is None else {"init_scale": init_scale}
    model = AdhVitForDualHandClassification(tiny_config(lh_num_labels=400, rh_num_labels=400, **fields))
    for head in (model.lh_classifier, model.rh_classifier):
        assert 0.019 < head.weight.std() < 0.021
        assert head.weight.abs().max() <= 2.0  # truncated at +-2 as timm's trunc_normal_
        assert torch.count_nonzero(head.bias) == 0
    query = model.videomae.encoder.layer[0].attention.attention.query
    assert 0.015 < query.weight.std() < 0.025
    assert torch.count_nonzero(query.bias) == 0
    assert torch.equal(model.fc_norm.weight, torch.ones(32))


@pytest.mark.parametrize("implementation", ["eager", "flex_attention"])
def test_attention_implementations_agree_with_sdpa(pixels, implementation):
    sdpa = tiny_model()
    other = tiny_model(attn_implementation=implementation)
    assert sdpa.config._attn_implementation == "sdpa"
    assert other.config._attn_implementation == implementation
    with torch.no_grad():
        expected, actual = sdpa(pixels), other(pixels)
    torch.testing.assert_close(actual.lh_logits, expected.lh_logits, rtol=0, atol=1e-5)
    torch.testing.assert_close(actual.pooled_output, expected.pooled_output, rtol=0, atol=1e-5)


def grads_after_backward(model, pixels):
    torch.manual_seed(3)
    output = model(pixels, lh_labels=torch.tensor([0, 2]), rh_labels=torch.tensor([1, 3]))
    output.loss.backward()
    return output.loss.detach(), {name: p.grad.clone() for name, p in model.named_parameters()}


def test_gradient_checkpointing_gives_the_same_gradients(pixels):
    plain = tiny_model(drop_path_rate=0.5).train()
    checkpointed = tiny_model(drop_path_rate=0.5).train()
    checkpointed.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    assert all(layer.gradient_checkpointing for layer in checkpointed.videomae.encoder.layer)
    loss, grads = grads_after_backward(plain, pixels)
    checkpointed_loss, checkpointed_grads = grads_after_backward(checkpointed, pixels)
    assert torch.equal(loss, checkpointed_loss)
    assert grads.keys() == checkpointed_grads.keys()
    for name, grad in grads.items():
        torch.testing.assert_close(checkpointed_grads[name], grad, rtol=1e-5, atol=1e-7, msg=name)
