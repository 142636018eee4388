"""Unit tests for chapter 08's receptive-field explorer in utils/widgets.py: built, moved from code, read back."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from utils.widgets import receptive_field_explorer  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"
IMAGE = np.linspace(0, 1, 60 * 80).reshape(60, 80)


def by_back_propagation(kernel, stride, dilation, depth, shape):
    """(rows the centre unit sees, output size) of the explorer's stack, measured with autograd."""
    padding = dilation * (kernel - 1) // 2
    model = nn.Sequential(*[nn.Conv2d(1, 1, kernel, stride=stride, padding=padding, dilation=dilation, bias=False)
                            for _ in range(depth)]).double()
    for layer in model:
        nn.init.ones_(layer.weight)
    x = torch.ones(1, 1, *shape, dtype=torch.float64, requires_grad=True)
    out = model(x)
    out[0, 0, out.shape[2] // 2, out.shape[3] // 2].backward()
    rows = x.grad[0, 0].sum(1).nonzero().flatten()
    return (rows.min().item(), rows.max().item()), tuple(out.shape[2:])


def test_receptive_field_explorer_reports_the_field_and_the_output_size():
    box = receptive_field_explorer(IMAGE)  # three 3×3 layers, stride 1
    assert "<b>7×7</b>" in box.text.value and "60×80 units" in box.text.value
    assert box.image.value[:8] == PNG
    field = box.field()
    assert (field.size, field.jump) == (7, 1) and box.output_size() == (60, 80)


@pytest.mark.parametrize("kernel, stride, dilation, depth", [(3, 1, 1, 3), (5, 2, 1, 3), (3, 2, 2, 2), (7, 3, 1, 2),
                                                             (1, 2, 4, 4)])
def test_receptive_field_explorer_agrees_with_back_propagation(kernel, stride, dilation, depth):
    box = receptive_field_explorer(IMAGE, kernel=kernel, stride=stride, dilation=dilation, depth=depth)
    (first_seen, last_seen), size = by_back_propagation(kernel, stride, dilation, depth, IMAGE.shape)
    assert box.output_size() == size
    first, last = box.field().patch(size[0] // 2)
    assert (max(first, 0), min(last, IMAGE.shape[0] - 1)) == (first_seen, last_seen)


def test_receptive_field_explorer_follows_its_sliders():
    box = receptive_field_explorer(IMAGE)
    first_image = box.image.value
    box.stride.value = 2
    assert "<b>15×15</b>" in box.text.value and "8×10 units" in box.text.value and "8 pixel(s) apart" in box.text.value
    assert box.image.value != first_image
    box.depth.value, box.dilation.value = 6, 3
    assert box.field().size == 1 + 2 * 3 * (1 + 2 + 4 + 8 + 16 + 32)
    assert "more than the whole image" in box.text.value


def test_receptive_field_explorer_draws_a_static_figure():
    box = receptive_field_explorer(np.stack([IMAGE] * 3, axis=2), kernel=5, depth=2)
    before = set(plt.get_fignums())
    box.draw()
    new = set(plt.get_fignums()) - before
    assert len(new) == 1
    left, right = plt.figure(new.pop()).axes
    assert left.get_title() == "2 layer(s): one unit sees 9×9 pixels" and left.get_xlabel() == "pixel column"
    assert right.get_xlabel() == "depth (layers)"
    assert [t.get_text() for t in right.get_legend().get_texts()] == ["receptive field", "this stack", "image side"]
    plt.close("all")


@pytest.mark.parametrize("image, options, message", [
    (np.zeros((3, 32, 32)), {}, r"got shape \(3, 32, 32\).*permute\(1, 2, 0\)"),
    (IMAGE, {"kernel": 4}, "kernel=4 is outside the explorer's range.*odd numbers"),
    (IMAGE, {"depth": 9}, "depth=9 is outside the explorer's range: depth runs from 1 to 8"),
])
def test_receptive_field_explorer_rejects_what_it_cannot_draw(image, options, message):
    with pytest.raises(ValueError, match=message):
        receptive_field_explorer(image, **options)
