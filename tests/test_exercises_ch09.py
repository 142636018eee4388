"""Chapter 09 checkers: the catalogue of wrong answers a learner really writes, and what else must hold."""
import importlib

import torch
import torchvision
from torch import nn

from tests.exercise_testing import report_only, verdict  # noqa: F401  (report_only is an autouse fixture)
from utils.cnn import VGG, VGG16, vgg_blocks
from utils.counting import count, receptive_field
from utils.exercises import ch09 as ex

# q1: a VGG config, block by block ----------------------------------------------------------------


def vgg_walk(config, in_channels, size, *, halve=lambda s: s // 2, every_conv_reads_input=False, bias=1,
             shapes_before_pool=False, last_block=True, padded=True):
    """A learner's walk through the config, with one of their mistakes switched on."""
    shapes, parameters, channels = [], 0, in_channels
    for item in config:
        if item == "M":
            shapes.append((channels, size, size) if shapes_before_pool else (channels, halve(size), halve(size)))
            size = halve(size)
        else:
            reads = in_channels if every_conv_reads_input else channels
            parameters += item * (reads * 3 * 3 + bias)
            channels = item
            if not padded:
                size -= 2
    if last_block and config[-1] != "M":
        shapes.append((channels, size, size))
    return shapes, parameters


def vgg_with_the_builder(config, in_channels, size):
    features = vgg_blocks(config, in_channels, batch_norm=False)
    x, shapes = torch.zeros(1, in_channels, size, size), []
    for block in features:
        x = block(x)
        shapes.append(tuple(x.shape[1:]))
    return shapes, sum(p.numel() for p in features.parameters())


def vgg_with_the_counter(config, in_channels, size):
    rows = count(nn.Sequential(*[nn.Conv2d(3, 3, 3)]), (3, 8, 8))
    return [], rows.parameters


def vgg_halving_with_division(config, in_channels, size):
    return vgg_walk(config, in_channels, size, halve=lambda s: s / 2)


def vgg_only_the_last_shape(config, in_channels, size):
    shapes, parameters = vgg_walk(config, in_channels, size)
    return shapes[-1], parameters


def vgg_hard_coded(config, in_channels, size):
    return [(64, 112, 112), (128, 56, 56), (256, 28, 28), (512, 14, 14), (512, 7, 7)], 9_220_480


# q2: a stack of 3×3 convolutions against one large kernel --------------------------------------

def stack(c_in, c_out, layers, size, *, field_per_layer=2, second_reads=None, bias=1, mac_bias=0, all_layers=True,
          flops=1, swapped=False):
    field = 1 + field_per_layer * layers if field_per_layer == 2 else field_per_layer * layers
    reads = c_out if second_reads is None else second_reads(c_in, c_out)
    stack_parameters = c_out * (9 * c_in + bias) + (layers - 1) * c_out * (9 * reads + bias)
    single_parameters = c_out * (field ** 2 * c_in + bias)
    per_layer = [size * size * c_out * (9 * (c_in if i == 0 else reads) + mac_bias) for i in range(layers)]
    stack_macs = sum(per_layer) if all_layers else per_layer[0]
    single_macs = size * size * c_out * (field ** 2 * c_in + mac_bias)
    if swapped:
        return field, single_parameters, stack_parameters, single_macs * flops, stack_macs * flops
    return field, stack_parameters, single_parameters, stack_macs * flops, single_macs * flops


def stack_unpadded(c_in, c_out, layers, size):
    field = 2 * layers + 1
    stack_macs, side, channels = 0, size, c_in
    for _ in range(layers):
        side -= 2
        stack_macs += side * side * c_out * 9 * channels
        channels = c_out
    single_side = size - field + 1
    _, stack_parameters, single_parameters, _, _ = stack(c_in, c_out, layers, size)
    return field, stack_parameters, single_parameters, stack_macs, single_side ** 2 * c_out * field ** 2 * c_in


def stack_with_the_counter(c_in, c_out, layers, size):
    from utils.counting import count as counter
    convs = [nn.Conv2d(c_in if i == 0 else c_out, c_out, 3, padding=1) for i in range(layers)]
    single = nn.Conv2d(c_in, c_out, 2 * layers + 1, padding=layers)
    a, b = counter(nn.Sequential(*convs), (c_in, size, size)), counter(single, (c_in, size, size))
    return 2 * layers + 1, a.parameters, b.parameters, a.macs, b.macs


def stack_with_flop_counter(c_in, c_out, layers, size):
    from torch.utils.flop_counter import FlopCounterMode
    with FlopCounterMode(display=False) as counter:
        nn.Conv2d(c_in, c_out, 3, padding=1)(torch.zeros(1, c_in, size, size))
    return 2 * layers + 1, 0, 0, counter.get_total_flops() // 2, 0


# q3: an Inception module -------------------------------------------------------------------------

def inception(n, c1, c3r, c3, c5r, c5, pp, size, *, k5=25, bias=1, out=None, naive_pool=False, no_reduce=False,
              mac_bias=0, pool_macs=0):
    convs = [(n, c1, 1)]
    convs += [(n, c3, 9), (n, c5, k5)] if no_reduce else [(n, c3r, 1), (c3r, c3, 9), (n, c5r, 1), (c5r, c5, k5)]
    if not naive_pool:
        convs.append((n, pp, 1))
    channels = c1 + c3 + c5 + (n if naive_pool else pp) if out is None else out
    parameters = sum(c_out * (c_in * k + bias) for c_in, c_out, k in convs)
    macs = sum(size * size * c_out * (c_in * k + mac_bias) for c_in, c_out, k in convs) + pool_pool(pool_macs, n, size)
    return channels, parameters, macs


def pool_pool(pool_macs, n, size):
    return pool_macs * size * size * n * 9


def inception_from_torchvision(n, c1, c3r, c3, c5r, c5, pp, size):
    from torchvision.models.googlenet import Inception
    block = Inception(n, c1, c3r, c3, c5r, c5, pp)
    macs = 0
    for module in block.modules():
        if isinstance(module, nn.Conv2d):
            macs += size * size * module.out_channels * module.in_channels * module.kernel_size[0] ** 2
    return block(torch.zeros(1, n, size, size)).shape[1], sum(p.numel() for p in block.parameters()), macs


def inception_with_the_counter(n, c1, c3r, c3, c5r, c5, pp, size):
    from utils.counting import count as counter
    summary = counter(nn.Conv2d(n, c1, 1), (n, size, size))
    return c1 + c3 + c5 + pp, summary.parameters, summary.macs


# q4: LeNet-5's flatten size for a new input ------------------------------------------------------

def lenet(height, width, padding=0, *, maps=16, shrink=4, halve=lambda n: n // 2, both_sides=True, padded=True,
          pad_c3=False, pools=True):
    def side(n):
        n = (n + (2 * padding if both_sides else padding) if padded else n) - shrink
        n = halve(n) if pools else n
        n = (n + 2 * padding if pad_c3 else n) - shrink
        return halve(n) if pools else n
    return maps * side(height) * side(width)


def lenet_by_running(height, width, padding=0):
    """Right, by running the layers on a zero image: allowed."""
    layers = nn.Sequential(nn.Conv2d(1, 6, 5, padding=padding), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.MaxPool2d(2))
    return layers(torch.zeros(1, 1, height, width)).numel()


def lenet_shape(height, width, padding=0):
    side = lambda n: ((n + 2 * padding - 4) // 2 - 4) // 2  # noqa: E731
    return 16, side(height), side(width)


def lenet_from_the_paper(height, width, padding=0):
    return 400


CATALOGUE = {
    "q1": [
        (lambda c, i, s: vgg_walk(c, i, s, halve=lambda n: (n + 1) // 2), "a 2×2 max-pool with stride 2 rounds down"),
        (lambda c, i, s: vgg_walk(c, i, s, halve=lambda n: n), "your sizes never shrink"),
        (lambda c, i, s: vgg_walk(c, i, s, padded=False), "VGG pads every 3×3 convolution by 1"),
        (lambda c, i, s: vgg_walk(c, i, s, every_conv_reads_input=True), "only the first one reads in_channels"),
        (lambda c, i, s: vgg_walk(c, i, s, bias=0), "each filter also has a bias"),
        (lambda c, i, s: vgg_walk(c, i, s, shapes_before_pool=True), "what comes out of its pool"),
        (lambda c, i, s: vgg_walk(c, i, s, last_block=False), "form a block of their own"),
        (vgg_halving_with_division, "has a fraction in it"),
        (vgg_only_the_last_shape, "one shape per block"),
        (vgg_hard_coded, "is the result hard-coded"),
        (vgg_with_the_builder, "`vgg_blocks`"),
        (vgg_with_the_counter, "which builds (or counts) the network for you"),
    ],
    "q2": [
        (lambda *a: stack(*a, field_per_layer=3), "widens the receptive field by 2 pixels, not 3"),
        (lambda *a: stack(*a, second_reads=lambda c_in, c_out: c_in), "only the first layer of the stack reads c_in"),
        (lambda *a: stack(*a, bias=0), "the biases are missing"),
        (lambda *a: stack(*a, mac_bias=1), "you counted the bias as a MAC"),
        (lambda *a: stack(*a, all_layers=False), "add up the MACs of all the layers"),
        (stack_unpadded, "both designs are padded"),
        (lambda *a: stack(*a, flops=2), "those are FLOPs"),
        (lambda *a: stack(*a)[:3], "should return 5 things"),
        (lambda *a: stack(*a, swapped=True), "gives a wrong result for c_in = 64"),
        (stack_with_the_counter, "which counts the parameters and operations for you"),
        (stack_with_flop_counter, "`FlopCounterMode`"),
        (lambda *a: tuple(float(v) + 0.5 for v in stack(*a)), "as a whole number"),
    ],
    "q3": [
        (lambda *a: inception(*a, out=sum(a[1:7])), "the 1×1 reductions are used up inside their branches"),
        (lambda *a: inception(*a, naive_pool=True), "the pool branch ends in a 1×1 projection"),
        (lambda *a: inception(*a, no_reduce=True), "read the 1×1 reductions' few channels"),
        (lambda *a: inception(*a, k5=9), "a known bug kept for its pretrained weights"),
        (inception_from_torchvision, "that is torchvision's block"),
        (lambda *a: inception(*a, bias=0), "the biases are missing"),
        (lambda *a: inception(*a, mac_bias=1), "you counted the bias as a MAC"),
        (lambda *a: inception(*a, pool_macs=1), "you counted the 3×3 max-pool"),
        (inception_with_the_counter, "which counts the parameters and operations for you"),
        (lambda *a: inception(*a)[:2], "should return 3 things"),
    ],
    "q4": [
        (lambda *a: lenet(*a, maps=1), "that is the number of positions"),
        (lambda *a: lenet(*a, maps=6), "6 is C1's number of maps"),
        (lambda *a: lenet(*a, shrink=5), "takes away 4 pixels, not 5"),
        (lambda *a: lenet(*a, halve=lambda n: (n + 1) // 2), "a 2×2 pool with stride 2 rounds down"),
        (lambda *a: lenet(*a, pools=False), "S2 and S4 are missing"),
        (lambda *a: lenet(*a, padded=False), "C1's padding is missing"),
        (lambda *a: lenet(*a, both_sides=False), "on BOTH sides"),
        (lambda *a: lenet(*a, pad_c3=True), "only C1 is padded here"),
        (lenet_shape, "like a shape"),
        (lenet_from_the_paper, "is the result hard-coded"),
        (lambda *a: lenet(*a) / 3, "as a whole number"),
    ],
}


def test_q1_reference_matches_the_builder_and_the_counter():
    for case in ex.q1._checker.cases:
        config, in_channels, size = case.args
        shapes, parameters = ex._vgg_shapes_and_parameters(config, in_channels, size)
        assert vgg_with_the_builder(config, in_channels, size) == (shapes, parameters)
        with torch.device("meta"):
            blocks = count(VGG(config, in_channels=in_channels, input_size=size), (in_channels, size, size))
        rows = [row for row in blocks.by_block(2).rows if row.name.startswith("features.")]
        assert [row.output_shape for row in rows] == shapes


def test_q1_accepts_an_answer_that_runs_its_own_layers():
    def by_running(config, in_channels, size):
        x, shapes, parameters, layers = torch.zeros(1, in_channels, size, size), [], 0, []
        for item in config:
            layer = nn.MaxPool2d(2) if item == "M" else nn.Conv2d(x.shape[1], item, 3, padding=1)
            parameters += sum(p.numel() for p in layer.parameters())
            x = layer(x)
            if item == "M":
                shapes.append(tuple(x.shape[1:]))
        if config[-1] != "M":
            shapes.append(tuple(x.shape[1:]))
        return shapes, parameters

    assert ex.q1.check(by_running).passed
    assert len(VGG(VGG16, input_size=32).features) == 5  # the builder works again after the check


def test_q2_reference_matches_the_counter_and_the_receptive_field():
    for case in ex.q2._checker.cases:
        c_in, c_out, layers, size = case.args
        field, stack_parameters, single_parameters, stack_macs, single_macs = ex._stack_versus_single(*case.args)
        convs = nn.Sequential(*[nn.Conv2d(c_in if i == 0 else c_out, c_out, 3, padding=1) for i in range(layers)])
        single = nn.Conv2d(c_in, c_out, field, padding=field // 2)
        assert receptive_field(convs).size == receptive_field([single]).size == field
        assert (count(convs, (c_in, size, size)).parameters, count(convs, (c_in, size, size)).macs) == \
               (stack_parameters, stack_macs)
        assert (count(single, (c_in, size, size)).parameters, count(single, (c_in, size, size)).macs) == \
               (single_parameters, single_macs)


def test_q3_reference_matches_a_module_built_from_the_paper():
    def conv(c_in, c_out, k):
        return nn.Conv2d(c_in, c_out, k, padding=k // 2)

    class Inception(nn.Module):
        def __init__(self, n, c1, c3r, c3, c5r, c5, pp):
            super().__init__()
            self.branches = nn.ModuleList([conv(n, c1, 1), nn.Sequential(conv(n, c3r, 1), conv(c3r, c3, 3)),
                                           nn.Sequential(conv(n, c5r, 1), conv(c5r, c5, 5)),
                                           nn.Sequential(nn.MaxPool2d(3, 1, padding=1), conv(n, pp, 1))])

        def forward(self, x):
            return torch.cat([branch(x) for branch in self.branches], dim=1)

    for case in ex.q3._checker.cases:
        *config, size = case.args
        module = Inception(*config)
        summary = count(module, (config[0], size, size))
        out = module(torch.zeros(1, config[0], size, size))
        assert ex._inception_costs(*case.args) == (out.shape[1], summary.parameters, summary.macs)


def test_q3_torchvision_differs_from_the_paper_exactly_by_its_two_known_changes():
    from torchvision.models.googlenet import Inception

    n, c1, c3r, c3, c5r, c5, pp = ex._3A
    theirs = sum(p.numel() for p in Inception(*ex._3A).parameters())
    _, ours, _ = ex._inception_costs(*ex._3A, 28)
    assert theirs == ours - c5r * c5 * (25 - 9) + (c1 + c3r + c3 + c5r + c5 + pp)  # 3×3 for 5×5; BN for biases


def test_q4_reference_matches_lenet5_and_a_run_of_the_layers():
    from utils.cnn import LeNet5

    for case in ex.q4._checker.cases:
        assert ex._lenet_flatten_size(*case.args) == lenet_by_running(*case.args)
    for size in (16, 28, 32, 45):
        assert ex._lenet_flatten_size(size, size) == LeNet5(input_size=size).classifier.c5.in_features
    assert ex.q4.check(lenet_by_running).passed


def test_the_checkers_leave_the_rng_and_the_forbidden_helpers_alone():
    torch.manual_seed(3)
    expected = torch.rand(3)
    torch.manual_seed(3)
    importlib.reload(ex)
    assert torch.equal(torch.rand(3), expected)
    ex.q2.check(stack_with_the_counter)
    assert count(nn.Conv2d(1, 1, 3), (1, 5, 5)).macs == 81  # count works again after a refused answer
    assert torchvision.models.vgg11(weights=None, num_classes=2) is not None
