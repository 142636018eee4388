"""Chapter 15 checkers: the catalogue of wrong answers a learner really writes, and what else must hold."""
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tests.exercise_testing import report_only, stub, verdict  # noqa: F401  (report_only is an autouse fixture)
from utils.distributed import scaled_lr as course_scaled_lr
from utils.exercises import ch15 as ex
from utils.scaling import make_divisible, scaled_cnn, scaled_cnn_config, scaled_cnn_parameters


# q1: the linear scaling rule ---------------------------------------------------------------------

def scaled_lr_in_steps(base_lr, base_batch, per_device_batch, world_size, accumulation_steps):
    global_batch = per_device_batch * world_size * accumulation_steps
    k = global_batch / base_batch
    return torch.tensor(base_lr * k)


def scaled_lr_as_a_string(base_lr, base_batch, per_device_batch, world_size, accumulation_steps):
    return f"{ex._scaled_lr(base_lr, base_batch, per_device_batch, world_size, accumulation_steps):.4g}"


# q2: multi-head attention -------------------------------------------------------------------------

def mha_with_einsum(x, in_proj_weight, in_proj_bias, out_proj_weight, out_proj_bias, num_heads):
    n, length, embed = x.shape
    d = embed // num_heads
    q, k, v = F.linear(x, in_proj_weight, in_proj_bias).split(embed, dim=-1)
    q, k, v = (t.view(n, length, num_heads, d) for t in (q, k, v))
    weights = torch.softmax(torch.einsum("nqhd,nkhd->nhqk", q, k) / math.sqrt(d), dim=-1)
    mixed = torch.einsum("nhqk,nkhd->nqhd", weights, v).reshape(n, length, embed)
    return F.linear(mixed, out_proj_weight, out_proj_bias)


def mha_head_by_head(x, in_proj_weight, in_proj_bias, out_proj_weight, out_proj_bias, num_heads):
    embed = x.shape[-1]
    d = embed // num_heads
    q, k, v = (x @ in_proj_weight.T + in_proj_bias).chunk(3, dim=-1)
    heads = []
    for h in range(num_heads):
        part = slice(h * d, (h + 1) * d)
        scores = q[..., part] @ k[..., part].transpose(1, 2) / d ** 0.5
        heads.append(scores.softmax(-1) @ v[..., part])
    return torch.cat(heads, dim=-1) @ out_proj_weight.T + out_proj_bias


def mha_with_torch(x, in_proj_weight, in_proj_bias, out_proj_weight, out_proj_bias, num_heads):
    layer = nn.MultiheadAttention(x.shape[-1], num_heads, batch_first=True)
    return layer(x, x, x, need_weights=False)[0]


def mha_detached(x, in_proj_weight, in_proj_bias, out_proj_weight, out_proj_bias, num_heads):
    with torch.no_grad():
        return ex._mha_forward(x, in_proj_weight, in_proj_bias, out_proj_weight, out_proj_bias, num_heads)


# q3: the compound-scaled count ------------------------------------------------------------------

def count_by_building(phi, base_depths, base_widths, num_classes):
    depths = [math.ceil(d * 1.2 ** phi) for d in base_depths]
    widths = [make_divisible(w * 1.1 ** phi) for w in base_widths]
    layers, channels = [], 3
    for depth, width in zip(depths, widths):
        for _ in range(depth):
            layers += [nn.Conv2d(channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width)]
            channels = width
    layers.append(nn.Linear(channels, num_classes))
    return sum(p.numel() for p in nn.Sequential(*layers).parameters())


def count_with_the_course(phi, base_depths, base_widths, num_classes):
    return scaled_cnn_parameters(scaled_cnn_config(phi, base_depths=base_depths, base_widths=base_widths),
                                 num_classes=num_classes)


def count_as_a_float(phi, base_depths, base_widths, num_classes):
    return ex._compound_count(phi, base_depths, base_widths, num_classes) / 3  # a share of it, not a count


CATALOGUE = {
    "q1": [
        (ex._per_device_only, "you scaled by the batch one device sees"),
        (ex._no_accumulation, "the accumulation steps are missing"),
        (ex._devices_only, "you multiplied by the number of devices alone"),
        (ex._square_root, "this is square-root scaling"),
        (ex._inverted, "the ratio is upside down"),
        (ex._whole_ratio, "the ratio was rounded down to a whole number"),
        (ex._divided_by_devices, "you divided by the number of devices"),
        (scaled_lr_as_a_string, "should return the learning rate as a number"),
        (lambda base_lr, base_batch, per_device_batch, world_size, accumulation_steps: course_scaled_lr(
            base_lr, base_batch=base_batch, batch_per_process=per_device_batch * accumulation_steps,
            processes=world_size), "another name for utils.distributed.scaled_lr"),
    ],
    "q2": [
        (ex._scaled_by_embedding, "the scores were divided by √E"),
        (ex._not_scaled, "the scores are not scaled"),
        (ex._divided_by_d, "the scores were divided by d instead of √d"),
        (ex._softmax_over_queries, "the softmax runs over the queries"),
        (ex._heads_by_reshape, "the heads were cut with a reshape straight to"),
        (ex._one_head, "this is attention with a single head"),
        (ex._keys_first, "q and k are swapped"),
        (ex._weights_not_transposed, "out_proj_weight was used without transposing"),
        (ex._no_out_projection, "the output projection is missing"),
        (mha_with_torch, "uses `MultiheadAttention`"),
        (mha_detached, "gradient"),
    ],
    "q3": [
        (ex._conv_bias, "each convolution got a bias"),
        (ex._norm_buffers, "the running mean and variance are buffers"),
        (ex._no_norm, "the batch norms are missing"),
        (ex._depth_floored, "the number of layers was rounded down"),
        (ex._width_not_divisible, "round them with make_divisible"),
        (ex._swapped_coefficients, "α and β are swapped"),
        (ex._width_squared, "the widths grew by β^(2φ)"),
        (ex._first_input_scaled, "its input is the image's 3 colour channels"),
        (ex._kernel_not_squared, "a 3 × 3 kernel was counted as 3 weights"),
        (ex._no_head_bias, "the classifier's bias is missing"),
        (ex._resolution_counted, "the resolution changed the count"),
        (count_with_the_course, "uses `scaled_cnn_parameters`"),
        (count_as_a_float, "as a whole number"),
    ],
}


@pytest.mark.parametrize("question, answer", [
    (ex.q1, ex._scaled_lr), (ex.q1, scaled_lr_in_steps),
    (ex.q2, ex._mha_forward), (ex.q2, mha_with_einsum), (ex.q2, mha_head_by_head),
    (ex.q3, ex._compound_count), (ex.q3, count_by_building),
])
def test_right_answers_pass(question, answer):
    assert verdict(question, answer)[0] == "correct"


@pytest.mark.parametrize("question", [ex.q1, ex.q2, ex.q3])
def test_an_untouched_stub_is_not_attempted(question):
    assert verdict(question, stub)[0] == "not attempted"
    assert verdict(question, None)[0] == "not attempted"


def test_the_reference_attention_is_nn_multihead_attention():
    for case in ex.q2._checker.cases:
        x, w_in, b_in, w_out, b_out, heads = case.args
        layer = nn.MultiheadAttention(x.shape[-1], heads, batch_first=True)
        with torch.no_grad():
            layer.in_proj_weight.copy_(w_in)
            layer.in_proj_bias.copy_(b_in)
            layer.out_proj.weight.copy_(w_out)
            layer.out_proj.bias.copy_(b_out)
        torch.testing.assert_close(ex._mha_forward(*case.args), layer(x, x, x, need_weights=False)[0])


def test_the_reference_count_is_the_network_the_course_builds():
    for case in ex.q3._checker.cases:
        phi, depths, widths, classes = case.args
        config = scaled_cnn_config(phi, base_depths=depths, base_widths=widths)
        built = sum(p.numel() for p in scaled_cnn(config, num_classes=classes).parameters())
        assert ex._compound_count(*case.args) == built == scaled_cnn_parameters(config, num_classes=classes)


def test_q3_cases_need_ceil_and_make_divisible():
    # rounding depth down and widths to the nearest integer must each change some case's answer
    assert any(ex._depth_floored(*c.args) != ex._compound_count(*c.args) for c in ex.q3._checker.cases)
    assert any(ex._width_not_divisible(*c.args) != ex._compound_count(*c.args) for c in ex.q3._checker.cases)


def test_only_the_learner_sees_the_hidden_case_fail():
    def right_on_the_visible_cases(base_lr, base_batch, per_device_batch, world_size, accumulation_steps):
        if base_batch == 1024:
            return base_lr
        return ex._scaled_lr(base_lr, base_batch, per_device_batch, world_size, accumulation_steps)

    status, message = verdict(ex.q1, right_on_the_visible_cases)
    assert status == "incorrect" and "kept hidden" in message
