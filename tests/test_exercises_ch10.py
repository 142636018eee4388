"""Chapter 10 checkers: the catalogue of wrong answers a learner really writes, and what else must hold."""
import importlib

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from tests.exercise_testing import report_only, verdict  # noqa: F401  (report_only is an autouse fixture)
from utils import resnet
from utils.exercises import ch10 as ex


def bn(h):
    return F.batch_norm(h, None, None, training=True)


# q1: a BasicBlock's forward pass ---------------------------------------------------------------------

def basic(x, w1, w2, w_shortcut, stride, *, relu_first=False, final_relu=True, project_bn=True, conv2_stride=False,
          skip=True, normalise=True, after_relu=False, shortcut_stride=True, detach=False):
    """A learner's BasicBlock, with one of their mistakes switched on."""
    norm = bn if normalise else (lambda h: h)
    out = F.relu(norm(F.conv2d(x, w1, stride=1 if conv2_stride else stride, padding=1)))
    out = norm(F.conv2d(out, w2, stride=stride if conv2_stride else 1, padding=1))
    if relu_first:
        out = F.relu(out)
    if w_shortcut is None:
        shortcut = x
    else:
        shortcut = F.conv2d(x, w_shortcut, stride=stride if shortcut_stride else 1)
        shortcut = bn(shortcut) if project_bn else shortcut
    if not skip:
        result = F.relu(out)
    elif after_relu:
        result = F.relu(out) + shortcut
    else:
        result = F.relu(out + shortcut) if final_relu else out + shortcut
    return result.detach() if detach else result


def no_stride_at_all(x, w1, w2, w_shortcut, stride):
    return basic(x, w1, w2, w_shortcut, 1)


def normalised_identity(x, w1, w2, w_shortcut, stride):
    out = bn(F.conv2d(F.relu(bn(F.conv2d(x, w1, stride=stride, padding=1))), w2, padding=1))
    shortcut = bn(x) if w_shortcut is None else bn(F.conv2d(x, w_shortcut, stride=stride))
    return F.relu(out + shortcut)


def eval_mode_norms(x, w1, w2, w_shortcut, stride):
    """Batch norms with fresh running statistics (mean 0, variance 1), as in eval mode."""
    def frozen(h):
        return F.batch_norm(h, torch.zeros(h.shape[1]), torch.ones(h.shape[1]), training=False)

    out = frozen(F.conv2d(F.relu(frozen(F.conv2d(x, w1, stride=stride, padding=1))), w2, padding=1))
    shortcut = x if w_shortcut is None else frozen(F.conv2d(x, w_shortcut, stride=stride))
    return F.relu(out + shortcut)


def with_the_helper(x, w1, w2, w_shortcut, stride):
    block = resnet.BasicBlock(w1.shape[1], w1.shape[0], stride)
    with torch.no_grad():
        block.conv1.weight.copy_(w1)
        block.conv2.weight.copy_(w2)
        if w_shortcut is not None:
            block.downsample[0].weight.copy_(w_shortcut)
    return block(x)


def with_torchvision(x, w1, w2, w_shortcut, stride):
    downsample = None
    if w_shortcut is not None:
        downsample = nn.Sequential(nn.Conv2d(w1.shape[1], w1.shape[0], 1, stride, bias=False), nn.BatchNorm2d(w1.shape[0]))
    block = torchvision.models.resnet.BasicBlock(w1.shape[1], w1.shape[0], stride, downsample)
    return block(x)


def with_functional_call(x, w1, w2, w_shortcut, stride):
    from torch.func import functional_call
    block = resnet.BasicBlock(w1.shape[1], w1.shape[0], stride)
    weights = {"conv1.weight": w1, "conv2.weight": w2}
    return functional_call(block, weights, (x,))


# q2: weight layers and parameters ------------------------------------------------------------------

def size(block, layers, widths, num_classes=1000, *, shortcut_layers=False, bn_params=2, projections="shape",
         fc_bias=True, fc_expanded=True, stem=7, conv_bias=False, ends=2):
    """A learner's count, with one of their mistakes switched on."""
    expansion, per_block = (1, 2) if block == "basic" else (4, 3)
    total, channels, projected = 3 * widths[0] * stem * stem + bn_params * widths[0], widths[0], 0
    total += widths[0] if conv_bias else 0
    for stage, (width, blocks) in enumerate(zip(widths, layers)):
        for index in range(blocks):
            stride = 2 if stage > 0 and index == 0 else 1
            shapes = [(channels, width, 3), (width, width, 3)] if block == "basic" else \
                [(channels, width, 1), (width, width, 3), (width, width * expansion, 1)]
            needs = {"shape": stride != 1 or channels != width * expansion, "stride": stride != 1, "none": False}
            if needs[projections]:
                shapes.append((channels, width * expansion, 1))
                projected += 1
            total += sum(a * b * k * k + bn_params * b + (b if conv_bias else 0) for a, b, k in shapes)
            channels = width * expansion
    total += (channels if fc_expanded else widths[-1]) * num_classes + (num_classes if fc_bias else 0)
    return ends + per_block * sum(layers) + (projected if shortcut_layers else 0), total


def counts_modules(block, layers, widths, num_classes=1000):
    """Counts every module with weights, batch norms included."""
    model = resnet.ResNet(resnet.BasicBlock if block == "basic" else resnet.Bottleneck, layers, widths=widths,
                          num_classes=num_classes)
    return (sum(1 for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear, nn.BatchNorm2d))),
            sum(p.numel() for p in model.parameters()))


def depth_only(block, layers, widths, num_classes=1000):
    return size(block, layers, widths, num_classes)[0]


# q3: the shape after each stage --------------------------------------------------------------------

def shapes(block, layers, widths, image_size, *, floor=False, pool=True, stem_stride=True, halve_first=False,
           expand=True, expand_stem=False, with_stem=True, hwc=False):
    """A learner's shapes, with one of their mistakes switched on."""
    halve = (lambda s: s // 2) if floor else (lambda s: (s + 1) // 2)
    expansion = 4 if block == "bottleneck" and expand else 1
    size_ = halve(image_size) if stem_stride else image_size
    size_ = halve(size_) if pool else size_
    found = [(widths[0] * (4 if expand_stem and block == "bottleneck" else 1), size_, size_)] if with_stem else []
    for stage, width in enumerate(widths):
        if stage > 0 or halve_first:
            size_ = halve(size_)
        found.append((width * expansion, size_, size_))
    return [(h, w, c) for c, h, w in found] if hwc else found


def with_batch_dimension(block, layers, widths, image_size):
    return [(1, *shape) for shape in shapes(block, layers, widths, image_size)]


def ran_the_network(block, layers, widths, image_size):
    with torch.no_grad():
        model = resnet.ResNet(resnet.BasicBlock if block == "basic" else resnet.Bottleneck, layers, widths=widths)
        model(torch.zeros(1, 3, image_size, image_size))
    return shapes(block, layers, widths, image_size)


# q4: three bugs in a Bottleneck --------------------------------------------------------------------

def bottleneck(x, w1, w2, w3, w_shortcut, stride, *, relu_before_add=False, shortcut_bn=True, stride_on="middle",
               final_relu=True, middle_relu=True):
    """A learner's repair of suspect_bottleneck, with some bugs left in."""
    strides = {"first": (stride, 1, 1), "middle": (1, stride, 1), "last": (1, 1, stride)}[stride_on]
    out = F.relu(bn(F.conv2d(x, w1, stride=strides[0])))
    out = bn(F.conv2d(out, w2, stride=strides[1], padding=1))
    out = F.relu(out) if middle_relu else out
    out = bn(F.conv2d(out, w3, stride=strides[2]))
    out = F.relu(out) if relu_before_add else out
    shortcut = x if w_shortcut is None else F.conv2d(x, w_shortcut, stride=stride)
    shortcut = bn(shortcut) if (shortcut_bn and w_shortcut is not None) else shortcut
    return F.relu(out + shortcut) if final_relu else out + shortcut


def suspect_bottleneck(x, w1, w2, w3, w_shortcut, stride):
    """The chapter's buggy block, handed in unchanged."""
    def norm(h):
        return F.batch_norm(h, None, None, training=True)

    out = F.relu(norm(F.conv2d(x, w1, stride=stride)))
    out = F.relu(norm(F.conv2d(out, w2, padding=1)))
    out = F.relu(norm(F.conv2d(out, w3)))
    shortcut = x if w_shortcut is None else F.conv2d(x, w_shortcut, stride=stride)
    return F.relu(out + shortcut)


def bottleneck_with_the_helper(x, w1, w2, w3, w_shortcut, stride):
    block = resnet.Bottleneck(w1.shape[1], w1.shape[0], stride)
    with torch.no_grad():
        for conv, w in [(block.conv1, w1), (block.conv2, w2), (block.conv3, w3)]:
            conv.weight.copy_(w)
        if w_shortcut is not None:
            block.downsample[0].weight.copy_(w_shortcut)
    return block(x)


CATALOGUE = {
    "q1": [
        (no_stride_at_all, "the stride is missing"),
        (lambda *a: basic(*a, relu_first=True), "you applied a ReLU to F(x) before the addition"),
        (lambda *a: basic(*a, final_relu=False), "the last ReLU is missing"),
        (lambda *a: basic(*a, project_bn=False), "the projection shortcut has no batch norm"),
        (lambda *a: basic(*a, conv2_stride=True), "the stride sits on the wrong convolution"),
        (lambda *a: basic(*a, skip=False), "there is no shortcut"),
        (lambda *a: basic(*a, normalise=False), "the batch norms are missing"),
        (eval_mode_norms, "as in eval mode"),
        (normalised_identity, "the identity shortcut is x itself"),
        (lambda *a: basic(*a, after_relu=True), "you added the shortcut after the last ReLU"),
        (lambda *a: basic(*a, detach=True), "carries no gradient"),
        (with_the_helper, "runs a ready-made block for you"),
        (with_torchvision, "runs a ready-made block for you"),
        (with_functional_call, "runs a ready-made block for you"),
        (lambda *a: basic(*a).tolist(), "as a tensor"),
        (lambda *a: basic(*a)[0], "4 dimensions [N, C, H, W]"),
    ],
    "q2": [
        (lambda *a: size(*a, shortcut_layers=True), "you counted the shortcuts' 1×1 convolutions as layers"),
        (lambda *a: size(*a, ends=1), "count the stem's convolution and the fully connected layer"),
        (lambda block, layers, widths, num_classes=1000: (1 + 2 * sum(layers) + 1,
                                                          size(block, layers, widths, num_classes)[1]),
         "a Bottleneck has three convolutions"),
        (lambda *a: size(*a, bn_params=0), "the batch norms are missing"),
        (lambda *a: size(*a, bn_params=4), "the running mean and variance are buffers"),
        (lambda *a: size(*a, projections="none"), "the projection shortcuts are missing"),
        (lambda *a: size(*a, projections="stride"), "whenever the channels change"),
        (lambda *a: size(*a, fc_bias=False), "the fully connected layer has a bias"),
        (lambda *a: size(*a, fc_expanded=False), "the classifier reads the last stage's output channels"),
        (lambda *a: size(*a, stem=3), "the ImageNet stem is a 7×7 convolution"),
        (lambda *a: size(*a, conv_bias=True), "have no bias (bias=False)"),
        (counts_modules, "you counted the batch norms"),
        (lambda *a: (18, 11_689_512), "is the result hard-coded"),
        (depth_only, "should return 2 things"),
        (lambda *a: (size(*a)[0], size(*a)[1] / 1e6), "as a whole number"),
    ],
    "q3": [
        (lambda *a: shapes(*a, floor=True), "an odd size is rounded the wrong way"),
        (lambda *a: shapes(*a, pool=False), "it shrinks the image 4 times"),
        (lambda *a: shapes(*a, stem_stride=False), "it shrinks the image 4 times"),
        (lambda *a: shapes(*a, halve_first=True), "the first stage keeps the size"),
        (lambda *a: shapes(*a, expand=False), "a Bottleneck's output has 4 × its width in channels"),
        (lambda *a: shapes(*a, expand_stem=True), "the stem has widths[0] output channels"),
        (lambda *a: shapes(*a, with_stem=False), "give the stem's output shape first"),
        (lambda *a: shapes(*a, hwc=True), "PyTorch's order is (C, H, W)"),
        (with_batch_dimension, "without the batch dimension"),
        (lambda *a: torch.tensor(shapes(*a)), "should return a list of shapes"),
        (lambda *a: [(64, 56, 56), (64, 56, 56), (128, 28, 28), (256, 14, 14), (512, 7, 7)], "is the result hard-coded"),
    ],
    "q4": [
        (suspect_bottleneck, "none of its three bugs is fixed yet"),
        (lambda *a: bottleneck(*a, relu_before_add=True, shortcut_bn=False), "one bug fixed, two to go"),
        (lambda *a: bottleneck(*a, relu_before_add=True, stride_on="first"), "one bug fixed, two to go"),
        (lambda *a: bottleneck(*a, relu_before_add=True), "a ReLU between the last batch norm and the addition"),
        (lambda *a: bottleneck(*a, shortcut_bn=False), "the projection shortcut still lacks"),
        (lambda *a: bottleneck(*a, stride_on="first"), "the stride still sits on the first 1×1 convolution"),
        (lambda *a: bottleneck(*a, stride_on="last"), "the stride moved to the last 1×1 convolution"),
        (lambda *a: bottleneck(*a, final_relu=False), "the ReLU after the addition is gone too"),
        (lambda *a: bottleneck(*a, middle_relu=False), "the ReLU after the 3×3 convolution's batch norm is missing"),
        (bottleneck_with_the_helper, "runs a ready-made block for you"),
        (lambda *a: bottleneck(*a).detach(), "carries no gradient"),
    ],
}


def test_q1_and_q4_references_equal_the_helpers_and_torchvision_with_copied_weights():
    for case in ex.q1._checker.cases:
        x, w1, w2, w_shortcut, stride = case.args
        expected = ex._basic_block(*case.fresh()[0])
        torch.testing.assert_close(with_the_helper(x, w1, w2, w_shortcut, stride), expected)
        block = torchvision.models.resnet.BasicBlock(w1.shape[1], w1.shape[0], stride, downsample=(
            None if w_shortcut is None else nn.Sequential(nn.Conv2d(w1.shape[1], w1.shape[0], 1, stride, bias=False),
                                                          nn.BatchNorm2d(w1.shape[0]))))
        block.load_state_dict(resnet.BasicBlock(w1.shape[1], w1.shape[0], stride).state_dict())
        with torch.no_grad():
            block.conv1.weight.copy_(w1), block.conv2.weight.copy_(w2)
            if w_shortcut is not None:
                block.downsample[0].weight.copy_(w_shortcut)
        torch.testing.assert_close(block(x), expected)
    for case in ex.q4._checker.cases:
        torch.testing.assert_close(bottleneck_with_the_helper(*case.fresh()[0]), ex._bottleneck(*case.fresh()[0]))


def test_q2_and_q3_references_agree_with_the_builder_and_torchvision():
    for case in ex.q2._checker.cases:
        assert ex._resnet_size(*case.args) == ex._resnet_size_by_the_helper(*case.args)
    assert ex._resnet_size("basic", [2, 2, 2, 2], (64, 128, 256, 512)) == (18, 11_689_512)
    assert ex._resnet_size("bottleneck", [3, 4, 6, 3], (64, 128, 256, 512)) == (50, 25_557_032)
    with torch.device("meta"):
        assert ex._resnet_size("bottleneck", [3, 4, 23, 3], (64, 128, 256, 512))[1] == sum(
            p.numel() for p in torchvision.models.resnet101(weights=None).parameters())
    for case in ex.q3._checker.cases:
        assert ex._stage_shapes(*case.args) == ex._stage_shapes_by_the_helper(*case.args)


def test_the_checks_leave_the_learners_random_numbers_alone():
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    importlib.reload(ex)
    ex.q1.check(ex._basic_block)
    ex.q4.check(ex._bottleneck)
    assert torch.equal(torch.rand(3), expected)


def test_the_forbidden_blocks_work_again_after_a_check():
    ex.q1.check(with_the_helper)
    assert isinstance(resnet.BasicBlock(4, 4), nn.Module)
    assert torch.func.functional_call is not None and callable(torch.func.functional_call)
    assert verdict(ex.q1, ex._basic_block)[0] == "correct"
