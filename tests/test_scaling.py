"""utils/scaling.py: EfficientNet's compound scaling numbers, torchvision's EfficientNet-B0 count, and the
small compound-scaled CNN family built, counted by formula, and its cost growing about 2^φ (chapter 15)."""
import pytest
from torchvision.models._utils import _make_divisible

from utils.counting import count
from utils.scaling import (ALPHA, BETA, GAMMA, compound_multipliers, efficientnet_parameters, flops_multiplier,
                           make_divisible, scaled_cnn, scaled_cnn_config, scaled_cnn_parameters)


def test_the_paper_s_coefficients_double_the_flops_per_step_of_phi():
    assert abs(ALPHA * BETA ** 2 * GAMMA ** 2 - 2) < 0.1
    assert flops_multiplier(0) == 1
    assert flops_multiplier(3) == pytest.approx(1.92027 ** 3, rel=1e-5)
    scale = compound_multipliers(2)
    assert (scale.depth, scale.width, scale.resolution) == pytest.approx((1.44, 1.21, 1.3225))
    assert flops_multiplier(2) == pytest.approx(scale.depth * scale.width ** 2 * scale.resolution ** 2)
    with pytest.raises(ValueError, match="1 or more"):
        compound_multipliers(1, alpha=0.9)


def test_torchvision_efficientnet_b0_has_5_29_million_parameters_and_b1_to_b3_more():
    counts = [efficientnet_parameters(variant) for variant in ("b0", "b1", "b2", "b3")]
    assert counts[0] == 5_288_548 and abs(counts[0] / 5.29e6 - 1) < 0.01
    assert counts == sorted(counts) and counts[3] > 2 * counts[0]
    with pytest.raises(ValueError, match="'b0'"):
        efficientnet_parameters("b9")


def test_make_divisible_rounds_as_torchvision_does():
    for channels in [3.0, 7.9, 12.0, 16 * 1.1, 32 * 1.21, 40 * 1.4, 100.0, 333.3]:
        assert make_divisible(channels) == _make_divisible(channels, 8)


@pytest.mark.parametrize("phi", [-1, 0, 1, 2])
def test_the_parameter_formula_equals_the_built_network(phi):
    config = scaled_cnn_config(phi)
    model = scaled_cnn(config)
    assert scaled_cnn_parameters(config) == sum(p.numel() for p in model.parameters())
    assert scaled_cnn_parameters(config, num_classes=3, in_channels=1) == sum(
        p.numel() for p in scaled_cnn(config, num_classes=3, in_channels=1).parameters())


def test_the_scaled_family_grows_deeper_wider_and_larger_and_its_cost_about_2_to_the_phi():
    configs = [scaled_cnn_config(phi) for phi in range(4)]
    assert configs[0].depths == (4, 4, 4) and configs[0].widths == (32, 64, 128) and configs[0].resolution == 32
    # 4·1.2 = 4.8 → 5 layers; 32·1.1 = 35.2 → 32 channels (a multiple of 8, within 10 %); 32·1.15 = 36.8 → 37
    assert configs[1].depths == (5, 5, 5) and configs[1].widths == (32, 72, 144) and configs[1].resolution == 37
    macs = [count(scaled_cnn(c), (3, c.resolution, c.resolution)).macs for c in configs]
    for phi in (1, 2, 3):  # rounding depth up and widths to multiples of 8 keeps it near, not at, the rule
        assert 0.9 < macs[phi] / macs[0] / flops_multiplier(phi) < 1.3


def test_mismatched_base_stages_are_refused():
    with pytest.raises(ValueError, match="one depth and one width for each stage"):
        scaled_cnn_config(1, base_depths=(1, 2), base_widths=(16, 32, 64))
