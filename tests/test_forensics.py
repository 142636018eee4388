"""utils/forensics.py: the high-pass layer stays fixed whatever trains around it, the average spectrum
puts a checkerboard where it says, and the occlusion map finds the part of an image a model looks at."""
import pytest
import torch
from torch import nn

from utils.forensics import SRM_KERNEL, HighPass, average_log_spectrum, occlusion_map
from utils.training import freeze, unfreeze


def checkerboard(size: int) -> torch.Tensor:
    rows, cols = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    return ((rows + cols) % 2).float() * 2 - 1


def test_high_pass_ignores_flat_images_and_ramps_and_sees_a_checkerboard():
    layer = HighPass()
    flat = torch.full((2, 3, 9, 9), 0.7)
    assert torch.equal(layer(flat), torch.zeros_like(flat))  # zero response to a constant image, edges included
    ramp = torch.linspace(0, 1, 9).expand(1, 3, 9, 9)
    assert layer(ramp)[..., 1:-1, 1:-1].abs().max() < 1e-6
    board = checkerboard(8).expand(1, 3, 8, 8)
    assert torch.allclose(layer(board)[..., 1:-1, 1:-1].abs(), torch.full((1, 3, 6, 6), 4.0))
    # each channel is filtered on its own
    one_channel = torch.zeros(1, 3, 8, 8)
    one_channel[:, 1] = checkerboard(8)
    assert layer(one_channel)[:, [0, 2]].abs().max() == 0 and layer(one_channel)[:, 1].abs().max() > 0


def test_high_pass_can_keep_the_image_beside_its_residual():
    images = torch.rand(2, 3, 8, 8)
    both = HighPass(keep_image=True)(images)
    assert both.shape == (2, 6, 8, 8)
    assert torch.equal(both[:, :3], images) and torch.allclose(both[:, 3:], HighPass()(images))
    with pytest.raises(ValueError, match=r"\[N, 3, H, W\]"):
        HighPass()(torch.rand(3, 8, 8))


def test_high_pass_is_never_trained_and_travels_with_the_model():
    torch.manual_seed(0)
    model = nn.Sequential(HighPass(), nn.Conv2d(3, 4, 3), nn.Flatten(), nn.LazyLinear(1))
    model(torch.rand(1, 3, 8, 8))
    assert not any(parameter is model[0].kernel for parameter in model.parameters())
    freeze(model)
    unfreeze(model)  # turns requires_grad back on for every parameter: the kernel must not become one
    assert model[0].kernel.requires_grad is False
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.5)
    loss = model(torch.rand(4, 3, 8, 8)).square().mean()
    loss.backward()
    optimizer.step()
    assert torch.equal(model[0].kernel, SRM_KERNEL.expand(3, 1, 3, 3))  # the others moved, the kernel did not
    state = model.state_dict()
    assert torch.equal(state["0.kernel"], model[0].kernel)
    copy = nn.Sequential(HighPass(), nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(144, 1))
    copy.load_state_dict(state)
    assert model.to(torch.float64)[0].kernel.dtype == torch.float64  # .to() moves it like any buffer


def test_average_log_spectrum_puts_a_checkerboard_at_the_nyquist_frequency():
    torch.manual_seed(0)
    smooth = torch.nn.functional.avg_pool2d(torch.rand(8, 1, 32, 32), 5, 1, 2)  # natural-ish: little fine detail
    board = smooth + 0.05 * checkerboard(32)  # a period of 2 pixels
    stripes = smooth.clone()
    stripes[..., ::4, :] += 0.1  # a period of 4 pixels, along the rows
    real, fake, striped = (average_log_spectrum(images) for images in (smooth, board, stripes))
    assert real.shape == (32, 32)
    peak = divmod(int((fake - real).argmax()), 32)
    assert peak == (0, 0)  # frequency (-16, -16): row and column 0 after centring
    row, col = divmod(int((striped - real).argmax()), 32)
    assert col == 16 and abs(row - 16) in (8, 16)  # ±N/4 (or its harmonic ±N/2) along the rows, nothing across
    assert (striped - real)[16 - 8, 16] > 1


def test_average_log_spectrum_takes_colour_and_grey_batches():
    images = torch.rand(3, 3, 16, 16)
    grey = (images * torch.tensor([0.299, 0.587, 0.114])[:, None, None]).sum(1)
    assert torch.allclose(average_log_spectrum(images), average_log_spectrum(grey), atol=1e-5)
    assert torch.allclose(average_log_spectrum(grey[:, None]), average_log_spectrum(grey))
    assert average_log_spectrum(torch.ones(2, 16, 16)).abs().max() < 1e-5  # the mean is removed first
    with pytest.raises(ValueError, match="at least one image"):
        average_log_spectrum(torch.zeros(0, 16, 16))
    with pytest.raises(ValueError, match=r"\[N, 3, H, W\]"):
        average_log_spectrum(torch.zeros(2, 2, 16, 16))


class LooksAtTopLeft(nn.Module):
    """A 'detector' whose score is the fine detail in the image's top-left 8×8 corner."""

    def forward(self, images):
        return HighPass()(images)[:, :, :8, :8].abs().sum(dim=(1, 2, 3))[:, None]


def test_occlusion_map_finds_where_the_model_looks():
    torch.manual_seed(0)
    image = torch.rand(3, 32, 32)
    model = LooksAtTopLeft().train()
    heat = occlusion_map(model, image, patch=8, stride=4)
    assert heat.shape == (32, 32) and model.training  # its mode is put back
    assert heat[:8, :8].mean() > 10 * heat[16:, 16:].abs().mean()
    assert heat[24:, 24:].abs().max() == 0  # covering a part it ignores changes nothing


def test_occlusion_map_needs_a_target_for_several_outputs_and_sane_patches():
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 16 * 16, 2))
    image = torch.rand(3, 16, 16)
    with pytest.raises(ValueError, match="target="):
        occlusion_map(model, image)
    assert occlusion_map(model, image, target=1, patch=4, stride=4).shape == (16, 16)
    with pytest.raises(ValueError, match="stride"):
        occlusion_map(model, image, patch=4, stride=5)
    with pytest.raises(ValueError, match="one image"):
        occlusion_map(model, image[None])
