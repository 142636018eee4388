"""utils/counting.py: parameters and MACs against the formulas, layer by layer, and against the
published sizes of torchvision's classic networks (built on the "meta" device: shapes, no memory)."""
import pytest
import torch
import torchvision
from torch import nn

from utils.counting import count


def conv_by_formula(c_in, c_out, k, size, *, stride=1, padding=0, dilation=1, groups=1, bias=True):
    """(output side, parameters, MACs) of a square convolution, written out as chapter 08 derives them."""
    side = (size + 2 * padding - dilation * (k - 1) - 1) // stride + 1
    parameters = c_out * ((c_in // groups) * k * k + (1 if bias else 0))
    macs = side * side * c_out * (c_in // groups) * k * k
    return side, parameters, macs


CONVS = {
    "plain 3x3": dict(c_in=3, c_out=8, k=3, size=16),
    "stride 2 with padding": dict(c_in=4, c_out=6, k=3, size=15, stride=2, padding=1),
    "dilation 2": dict(c_in=2, c_out=5, k=3, size=12, dilation=2, padding=1),
    "groups 2": dict(c_in=6, c_out=4, k=3, size=10, groups=2),
    "depthwise": dict(c_in=8, c_out=8, k=5, size=9, padding=2, groups=8),
    "1x1": dict(c_in=16, c_out=32, k=1, size=7),
    "no bias": dict(c_in=3, c_out=7, k=5, size=11, bias=False),
}


@pytest.mark.parametrize("case", CONVS)
def test_conv_counts_follow_the_formulas(case):
    spec = CONVS[case]
    conv = nn.Conv2d(spec["c_in"], spec["c_out"], spec["k"], stride=spec.get("stride", 1),
                     padding=spec.get("padding", 0), dilation=spec.get("dilation", 1),
                     groups=spec.get("groups", 1), bias=spec.get("bias", True))
    side, parameters, macs = conv_by_formula(**spec)
    (row,) = count(conv, (spec["c_in"], spec["size"], spec["size"])).rows
    assert row.output_shape == (spec["c_out"], side, side)
    assert (row.parameters, row.macs) == (parameters, macs)


def test_the_formulas_on_numbers_worked_by_hand():
    # 3×16×16 → 8×14×14 with 3×3 kernels: 8·(3·9 + 1) = 224 parameters, 14·14·8·3·9 = 42,336 MACs
    assert conv_by_formula(3, 8, 3, 16) == (14, 224, 42_336)
    # depthwise 8 channels, 5×5, padding 2 on 9×9: 8·(25 + 1) = 208 parameters, 9·9·8·25 = 16,200 MACs
    assert conv_by_formula(8, 8, 5, 9, padding=2, groups=8) == (9, 208, 16_200)


def test_linear_layers_cost_in_times_out_per_position():
    assert [(r.parameters, r.macs) for r in count(nn.Linear(64, 10), (64,)).rows] == [(650, 640)]
    (row,) = count(nn.Linear(4, 5), (7, 4)).rows  # 7 positions, as in a sequence
    assert row.output_shape == (7, 5) and row.macs == 7 * 4 * 5


def test_other_layers_count_parameters_but_no_macs():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(),
                          nn.Flatten(), nn.Linear(4 * 3 * 3, 2))
    summary = count(model, (1, 8, 8))
    assert [row.kind for row in summary.rows] == ["Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d", "Dropout",
                                                  "Flatten", "Linear"]
    assert [row.macs for row in summary.rows][1:6] == [0] * 5
    assert summary.rows[1].parameters == 8  # batch norm's weight and bias
    assert summary.parameters == sum(p.numel() for p in model.parameters()) == 40 + 8 + 74
    assert summary.macs == 6 * 6 * 4 * 9 + 36 * 2


def test_a_layer_called_twice_counts_its_parameters_once_and_its_work_twice():
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = nn.Linear(3, 3)
            self.unused = nn.Linear(3, 100)

        def forward(self, x):
            return self.layer(self.layer(x))

    summary = count(Twice(), (3,))
    assert [(r.name, r.parameters, r.macs) for r in summary.rows] == [("layer", 12, 9), ("layer", 0, 9)]
    assert summary.parameters == 12 + 400
    assert "plus 400 parameters in layers that the forward pass did not use" in summary.table()


def test_parameters_owned_by_a_container_are_counted():
    class WithToken(nn.Module):
        def __init__(self):
            super().__init__()
            self.token = nn.Parameter(torch.zeros(5))
            self.head = nn.Linear(5, 2)

        def forward(self, x):
            return self.head(x + self.token)

    summary = count(WithToken(), (5,))
    assert sum(r.parameters for r in summary.rows) == summary.parameters == 5 + 12


def test_counting_leaves_the_model_as_it_was():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Dropout(), nn.BatchNorm2d(2))
    model.train()
    model[3].eval()  # a frozen batch norm, as when fine-tuning
    before = {k: v.clone() for k, v in model.state_dict().items()}
    count(model, (1, 5, 5))
    assert [m.training for m in model.modules()] == [True, True, True, True, False]
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # no batch-norm update
    assert all(not m._forward_hooks for m in model.modules())


def test_the_dummy_input_follows_the_model_dtype():
    summary = count(nn.Conv2d(1, 1, 3).double(), (1, 4, 4))
    assert summary.rows[0].output_shape == (1, 2, 2)


def test_a_wrong_input_shape_says_what_to_pass():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(4 * 6 * 6, 2))
    with pytest.raises(ValueError, match=r"dummy batch of shape \(1, 1, 8, 8\).*without the batch dimension"):
        count(model, (1, 8, 8))
    with pytest.raises(ValueError, match="without the batch dimension"):
        count(model, (3, 0, 8))
    assert all(not m._forward_hooks for m in model.modules())  # hooks removed after a failure too


def test_by_block_adds_up_each_block():
    model = nn.Sequential()
    model.add_module("stem", nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU()))
    model.add_module("block", nn.Sequential(nn.Conv2d(4, 8, 3, stride=2, padding=1), nn.ReLU(), nn.MaxPool2d(2)))
    model.add_module("flatten", nn.Flatten())
    model.add_module("head", nn.Linear(8 * 2 * 2, 3))
    summary = count(model, (1, 8, 8))
    blocks = summary.by_block(1)
    assert [(r.name, r.kind, r.output_shape) for r in blocks.rows] == [
        ("stem", "Sequential", (4, 8, 8)), ("block", "Sequential", (8, 2, 2)),
        ("flatten", "Flatten", (32,)), ("head", "Linear", (3,))]
    assert blocks.rows[1].parameters == 8 * (4 * 9 + 1) and blocks.rows[1].macs == 4 * 4 * 8 * 4 * 9
    assert (blocks.parameters, blocks.macs) == (summary.parameters, summary.macs)
    with pytest.raises(ValueError, match="depth=0"):
        summary.by_block(0)


def test_the_table_lists_every_row_and_the_totals():
    summary = count(nn.Sequential(nn.Conv2d(3, 64, 7, stride=2, padding=3), nn.ReLU()), (3, 224, 224))
    lines = summary.table().splitlines()
    assert lines[0].split() == ["layer", "type", "output", "shape", "parameters", "MACs"]
    assert lines[2].split() == ["0", "Conv2d", "64×112×112", "9,472", "118,013,952"]
    assert lines[4].split() == ["total", "9,472", "118,013,952"]
    assert lines[5] == ("9,472 parameters (9.47 k) and 118,013,952 MACs (118 M) for one input "
                        "of shape 3×224×224")
    assert str(summary) == summary.table() and "118 M MACs" in repr(summary)


# The published sizes: torchvision's documentation (parameters, and "GFLOPS" that are MACs).
CLASSICS = {
    "alexnet": ({}, 61_100_840, 0.71e9),
    "vgg16": ({}, 138_357_544, 15.47e9),
    "googlenet": (dict(aux_logits=False, init_weights=False), 6_624_904, 1.50e9),
    "resnet18": ({}, 11_689_512, 1.81e9),
}


@pytest.mark.parametrize("name", CLASSICS)
def test_torchvision_classics_have_their_published_sizes(name):
    options, parameters, macs = CLASSICS[name]
    with torch.device("meta"):
        model = getattr(torchvision.models, name)(weights=None, **options)
    summary = count(model, (3, 224, 224))
    assert summary.parameters == parameters
    assert sum(row.parameters for row in summary.rows) == parameters  # every layer was reached
    assert summary.macs == pytest.approx(macs, abs=0.005e9)  # published to two decimals, in G


def test_resnet18_counts_the_same_on_real_weights_as_on_meta():
    with torch.device("meta"):
        on_meta = count(torchvision.models.resnet18(weights=None), (3, 224, 224))
    real = count(torchvision.models.resnet18(weights=None), (3, 224, 224))
    assert real.rows == on_meta.rows
    assert real.macs == 1_814_073_344
    stages = real.by_block(1)
    assert [(r.name, r.output_shape) for r in stages.rows if r.name.startswith("layer")] == [
        ("layer1", (64, 56, 56)), ("layer2", (128, 28, 28)), ("layer3", (256, 14, 14)), ("layer4", (512, 7, 7))]


# Receptive fields: the recurrence against back-propagation from one output unit.

def rows_seen(model, height, unit):
    """The input rows whose value reaches output row `unit` of `model` (positive weights: no cancellation)."""
    x = torch.ones(1, 1, height, height, dtype=torch.float64, requires_grad=True)
    model(x)[0, :, unit].sum().backward()
    return x.grad[0, 0].abs().sum(1).nonzero().flatten().tolist()


def positive(*layers):
    model = nn.Sequential(*layers).double()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.abs() + 0.1)
    return model


STACKS = {
    "three 3x3": lambda: positive(*[nn.Conv2d(1, 1, 3) for _ in range(3)]),
    "stride and padding": lambda: positive(nn.Conv2d(1, 2, 3, stride=2, padding=1), nn.ReLU(),
                                           nn.Conv2d(2, 1, 5, stride=2, padding=2)),
    "pooling between": lambda: positive(nn.Conv2d(1, 2, 3, padding=1), nn.BatchNorm2d(2).eval(), nn.AvgPool2d(2),
                                        nn.Conv2d(2, 1, 3, padding=1), nn.AvgPool2d(3, stride=2)),
    "dilation": lambda: positive(nn.Conv2d(1, 1, 3, dilation=1), nn.Conv2d(1, 1, 3, dilation=2),
                                 nn.Conv2d(1, 1, 3, dilation=4, padding=4)),
    "even kernel, same": lambda: positive(nn.Conv2d(1, 1, 4, padding="same"), nn.Conv2d(1, 1, 2, padding="valid")),
    "nested": lambda: positive(nn.Sequential(nn.Conv2d(1, 1, 3, stride=2), nn.Tanh()),
                               nn.Sequential(nn.Sequential(nn.Conv2d(1, 1, 3, stride=3)))),
}


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("name", STACKS)
def test_receptive_field_matches_back_propagation(name):
    from utils.counting import receptive_field

    model, height = STACKS[name](), 40
    field = receptive_field(model)
    units = model(torch.zeros(1, 1, height, height, dtype=torch.float64)).shape[2]
    inside = 0
    for unit in range(units):
        first, last = field.patch(unit)
        seen = rows_seen(model, height, unit)
        if 0 <= first and last < height:  # the whole patch on the image: every row in it is seen
            assert seen == list(range(first, last + 1)), unit
            inside += 1
        else:  # partly in some layer's padding: what is seen lies in the part on the image
            assert seen and first <= seen[0] and seen[-1] <= last, unit
    assert inside >= 2


def test_a_dilated_stack_can_leave_holes_in_its_receptive_field():
    from utils.counting import receptive_field

    model = positive(nn.Conv2d(1, 1, 3, dilation=2), nn.Conv2d(1, 1, 3, dilation=2))
    assert receptive_field(model).patch(0) == (0, 8)
    assert rows_seen(model, 20, 0) == [0, 2, 4, 6, 8]  # the span is 9 rows, every other one seen


def test_receptive_field_reads_the_axis_and_a_list_of_layers():
    from utils.counting import ReceptiveField, receptive_field

    layers = [nn.Conv2d(1, 1, (3, 5), stride=(1, 2), padding=(1, 0)), nn.MaxPool2d((2, 3), dilation=(1, 2))]
    assert receptive_field(layers) == ReceptiveField(size=4, jump=2, start=-1)
    assert receptive_field(layers, axis=1) == ReceptiveField(size=5 + 2 * 2 * 2, jump=6, start=0)
    assert receptive_field([]) == ReceptiveField(1, 1, 0)
    assert ReceptiveField(7, 4, -3).patch(2) == (5, 11)


@pytest.mark.parametrize("layers, message", [
    ([nn.Conv2d(1, 1, 3), nn.Flatten(), nn.Linear(4, 2)], r"after layer 1 \(Flatten\) every output depends on"),
    (nn.Sequential(nn.Conv2d(1, 1, 3), nn.AdaptiveAvgPool2d(1)), r"layer 1 \(AdaptiveAvgPool2d\)"),
    ([nn.Upsample(scale_factor=2)], r"does not know how layer 0 \(Upsample\) moves pixels"),
    (torchvision.models.resnet18(weights=None).layer1, r"layer1.0|0 \(BasicBlock\) has its own forward\(\)"),
])
def test_receptive_field_refuses_what_it_cannot_follow(layers, message):
    from utils.counting import receptive_field

    with pytest.raises(ValueError, match=message):
        receptive_field(layers)
