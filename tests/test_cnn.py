"""utils/cnn.py: LeNet-5 (today's version and the paper's options) and the VGG builder."""
import pytest
import torch
import torchvision
from torch import nn

from utils.cnn import LENET_C3_TABLE, VGG, VGG11, VGG16, VGG_SMALL, LeNet5
from utils.counting import count


def rows_by_name(summary):
    return {row.name: row for row in summary.rows}


def test_lenet5_has_the_paper_shapes_and_today_s_parameter_count():
    rows = rows_by_name(count(LeNet5(), (1, 32, 32)))
    shapes = {name: rows[name].output_shape for name in
              ("features.c1", "features.s2", "features.c3", "features.s4", "classifier.c5", "classifier.f6",
               "classifier.output")}
    assert shapes == {"features.c1": (6, 28, 28), "features.s2": (6, 14, 14), "features.c3": (16, 10, 10),
                      "features.s4": (16, 5, 5), "classifier.c5": (120,), "classifier.f6": (84,),
                      "classifier.output": (10,)}
    # 6·26 + 16·(6·25 + 1) + 120·401 + 84·121 + 10·85
    assert sum(p.numel() for p in LeNet5().parameters()) == 156 + 2_416 + 48_120 + 10_164 + 850 == 61_706


def test_the_paper_options_give_its_60000_trainable_parameters_before_the_output():
    paper = LeNet5(activation="tanh", pooling="subsample", c3_table=True)
    rows = count(paper, (1, 32, 32)).by_block(2)
    parameters = {row.name: row.parameters for row in rows.rows}
    assert parameters["features.s2"] == 12 and parameters["features.s4"] == 32  # a weight and a bias per map
    assert parameters["features.c3"] == 1_516
    assert sum(p.numel() for p in paper.parameters()) - parameters["classifier.output"] == 60_000
    kinds = {type(m) for m in paper.modules()}
    assert nn.Tanh in kinds and nn.ReLU not in kinds and nn.MaxPool2d not in kinds


def test_c3_maps_read_only_the_maps_of_the_connection_table():
    c3 = LeNet5(c3_table=True).features.c3
    for source in range(6):
        x = torch.zeros(1, 6, 14, 14)
        x[0, source] = torch.randn(14, 14, generator=torch.Generator().manual_seed(source))
        changed = (c3(x) - c3(torch.zeros_like(x))).abs().flatten(2).amax(dim=2)[0] > 0
        readers = {j for j, inputs in enumerate(LENET_C3_TABLE) if source in inputs}
        assert set(changed.nonzero().flatten().tolist()) == readers
    assert [len(inputs) for inputs in LENET_C3_TABLE] == [3] * 6 + [4] * 9 + [6]


@pytest.mark.parametrize("pooling", ["max", "avg", "subsample"])
def test_lenet5_sizes_its_head_for_other_inputs(pooling):
    model = LeNet5(num_classes=3, in_channels=3, input_size=28, pooling=pooling)
    assert model.classifier.c5.in_features == 16 * 4 * 4  # 28 → 24 → 12 → 8 → 4
    assert model(torch.rand(2, 3, 28, 28)).shape == (2, 3)
    assert LeNet5(input_size=16)(torch.rand(1, 1, 16, 16)).shape == (1, 10)  # the smallest that works


def test_lenet5_explains_bad_sizes_and_options():
    with pytest.raises(ValueError, match=r"1×8×8 input is too small.*at least 16×16.*interpolate"):
        LeNet5(input_size=8)
    with pytest.raises(ValueError, match=r"built for 1×32×32 images; got a batch of shape \(2, 1, 28, 28\)"):
        LeNet5()(torch.zeros(2, 1, 28, 28))
    with pytest.raises(ValueError, match=r"batch of images \[N, C, H, W\].*unsqueeze"):
        LeNet5()(torch.zeros(1, 32, 32))
    with pytest.raises(ValueError, match="choose one of relu, tanh"):
        LeNet5(activation="sigmoid")
    with pytest.raises(ValueError, match="choose one of max, avg, subsample"):
        LeNet5(pooling="stride")


@pytest.fixture(scope="module")
def vgg16_pair():
    """The course's VGG-16 and torchvision's, on the meta device: shapes and sizes, no memory or time."""
    with torch.device("meta"):
        return VGG(VGG16), torchvision.models.vgg16(weights=None)


def test_vgg16_matches_torchvision_layer_for_layer(vgg16_pair):
    mine, theirs = (count(model, (3, 224, 224)) for model in vgg16_pair)
    assert mine.parameters == theirs.parameters == 138_357_544
    assert mine.macs == theirs.macs
    weighted = [(r.kind, r.output_shape, r.parameters) for r in mine.rows if r.parameters]
    assert weighted == [(r.kind, r.output_shape, r.parameters) for r in theirs.rows if r.parameters]
    assert isinstance(vgg16_pair[0].classifier[6], nn.Linear)  # chapter 13 replaces classifier[6]


def test_vgg16_blocks_halve_the_size_and_double_the_channels(vgg16_pair):
    blocks = [row for row in count(vgg16_pair[0], (3, 224, 224)).by_block(2).rows if row.name.startswith("features")]
    assert [(row.name, row.output_shape) for row in blocks] == [
        ("features.block1", (64, 112, 112)), ("features.block2", (128, 56, 56)), ("features.block3", (256, 28, 28)),
        ("features.block4", (512, 14, 14)), ("features.block5", (512, 7, 7))]


def test_vgg11_matches_torchvision_too():
    with torch.device("meta"):
        assert (sum(p.numel() for p in VGG(VGG11).parameters())
                == sum(p.numel() for p in torchvision.models.vgg11(weights=None).parameters()) == 132_863_336)


def test_a_small_vgg_with_batch_norm_trains_on_digit_sized_images():
    torch.manual_seed(0)
    model = VGG(VGG_SMALL, num_classes=10, in_channels=1, input_size=8, batch_norm=True, hidden=32)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 6 and all(conv.bias is None for conv in convs)  # batch norm makes a bias redundant
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == 6
    assert model.classifier[0].in_features == 64  # 64 channels × 1×1 after three pools of 8×8
    x, y = torch.rand(16, 1, 8, 8), torch.randint(0, 10, (16,))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    losses = []
    for _ in range(5):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_vgg_explains_bad_configs_and_inputs():
    with pytest.raises(ValueError, match=r"config entry 'X'"):
        VGG([64, "X"])
    with pytest.raises(ValueError, match="has no convolution"):
        VGG(["M"])
    with pytest.raises(ValueError, match=r"3×16×16 input is too small.*5 pools.*at least 32 pixels"):
        VGG(VGG16, input_size=16)
    with pytest.raises(ValueError, match=r"built for 1×8×8 images.*in_channels=3, input_size=32"):
        VGG(VGG_SMALL, in_channels=1, input_size=8, hidden=8)(torch.zeros(1, 3, 32, 32))
