"""utils/resnet.py: torchvision's ResNet-18 and -50 weights load into ours and give the same outputs;
the plain twins, the CIFAR stem, zero-initialised residuals and the small networks of chapter 10."""
import pytest
import torch
import torchvision
from torch import nn

from utils.counting import count
from utils.resnet import BasicBlock, Bottleneck, ResNet, resnet18, resnet50, resnet_for_small_images

SEEDED_INPUT = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))


def parameters(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("ours, theirs, size", [(resnet18, torchvision.models.resnet18, 11_689_512),
                                                (resnet50, torchvision.models.resnet50, 25_557_032)])
def test_torchvision_weights_load_strictly_and_give_the_same_outputs(ours, theirs, size):
    torch.manual_seed(0)
    reference, model = theirs(weights=None).eval(), ours().eval()
    assert list(model.state_dict()) == list(reference.state_dict())
    assert parameters(model) == parameters(reference) == size
    model.load_state_dict(reference.state_dict(), strict=True)
    with torch.no_grad():
        torch.testing.assert_close(model(SEEDED_INPUT), reference(SEEDED_INPUT), rtol=0, atol=0)


def test_zero_init_residual_zeroes_each_block_s_last_batch_norm_as_torchvision_does():
    def zeroed(model):
        return [name for name, tensor in model.state_dict().items() if name.endswith("weight") and not tensor.any()]

    names = zeroed(resnet18(zero_init_residual=True))
    assert names == zeroed(torchvision.models.resnet18(weights=None, zero_init_residual=True))
    assert len(names) == 8 and all(name.endswith(".bn2.weight") for name in names)
    bottlenecks = zeroed(resnet50(zero_init_residual=True))
    assert len(bottlenecks) == 16 and all(name.endswith(".bn3.weight") for name in bottlenecks)
    assert not zeroed(resnet18())


def test_a_zero_initialised_block_starts_as_the_identity():
    block = BasicBlock(8, 8)
    nn.init.zeros_(block.last_bn.weight)
    block.eval()
    x = torch.rand(2, 8, 6, 6)  # after a ReLU the input is non-negative
    torch.testing.assert_close(block(x), x)


@pytest.mark.parametrize("block", [BasicBlock, Bottleneck])
def test_a_plain_block_has_no_skip(block):
    residual, plain = block(16, 16 // block.expansion), block(16, 16 // block.expansion, residual=False)
    plain.load_state_dict(residual.state_dict())
    for model in (residual, plain):
        nn.init.zeros_(model.last_bn.weight)  # F(x) = 0
        model.eval()
    x = torch.rand(1, 16, 4, 4)
    torch.testing.assert_close(residual(x), x)
    assert not plain(x).any()


def test_shortcuts_project_only_when_the_shape_changes():
    assert BasicBlock(64, 64).downsample is None
    assert BasicBlock(64, 128, stride=2).downsample[0].stride == (2, 2)
    assert Bottleneck(256, 64).downsample is None
    bottleneck = Bottleneck(64, 64)  # 64 in, 4 × 64 out
    assert bottleneck.downsample[0].out_channels == 256 and bottleneck.downsample[0].stride == (1, 1)
    assert Bottleneck(256, 128, stride=2).conv2.stride == (2, 2)  # v1.5: the stride sits on the 3×3
    assert BasicBlock(64, 128, stride=2, residual=False).downsample is None


def test_the_plain_twin_has_the_same_depth_and_widths_without_shortcuts():
    residual, plain = resnet18(), resnet18(residual=False)
    projections = sum(parameters(m.downsample) for m in residual.modules()
                      if isinstance(m, BasicBlock) and m.downsample is not None)
    assert parameters(residual) - parameters(plain) == projections > 0
    mine, twin = count(residual, (3, 64, 64)).by_block(1), count(plain, (3, 64, 64)).by_block(1)
    assert [(r.name, r.output_shape) for r in mine.rows] == [(r.name, r.output_shape) for r in twin.rows]
    with pytest.raises(ValueError, match="would make every plain block output zeros"):
        resnet18(residual=False, zero_init_residual=True)


def test_the_cifar_stem_keeps_small_images_whole():
    model = resnet18(num_classes=10, stem="cifar")
    assert isinstance(model.maxpool, nn.Identity) and model.conv1.kernel_size == (3, 3)
    rows = {r.name: r.output_shape for r in count(model, (3, 32, 32)).by_block(1).rows}
    assert rows["layer1"] == (64, 32, 32) and rows["layer4"] == (512, 4, 4) and rows["fc"] == (10,)
    imagenet = {r.name: r.output_shape for r in count(resnet18(), (3, 64, 64)).by_block(1).rows}
    assert imagenet["maxpool"] == (64, 16, 16)  # the ImageNet stem shrinks 4×


@pytest.mark.parametrize("depth", [8, 20])
@pytest.mark.parametrize("residual", [True, False])
def test_small_networks_have_depth_weighted_layers_and_run_on_digits(depth, residual):
    model = resnet_for_small_images(depth, residual=residual)
    shortcuts = {id(layer) for m in model.modules() if isinstance(m, BasicBlock) and m.downsample is not None
                 for layer in m.downsample}
    weighted = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear)) and id(m) not in shortcuts]
    assert len(weighted) == depth
    assert len(shortcuts) == (4 if residual else 0)  # a conv and a BN where stages 2 and 3 begin
    rows = {r.name: r.output_shape for r in count(model, (1, 8, 8)).by_block(1).rows}
    assert (rows["layer1"], rows["layer2"], rows["layer3"]) == ((16, 8, 8), (32, 4, 4), (64, 2, 2))
    assert model(torch.rand(4, 1, 8, 8)).shape == (4, 10)


def test_builders_explain_bad_settings():
    with pytest.raises(ValueError, match=r"depth=10: .*6n \+ 2.*8, 14, 20"):
        resnet_for_small_images(10)
    with pytest.raises(ValueError, match="stem='mnist'"):
        resnet18(stem="mnist")
    with pytest.raises(ValueError, match="one width for each stage"):
        ResNet(BasicBlock, [2, 2], widths=(16, 32, 64))
    with pytest.raises(ValueError, match="at least one block per stage"):
        ResNet(BasicBlock, [2, 0], widths=(16, 32))
