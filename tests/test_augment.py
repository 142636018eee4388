"""utils/augment.py and plots.plot_augmentations: presets keep images valid and labels intact, are
reproducible from a generator or seed, do what their names say; mixup agrees with torchvision's."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torchvision.transforms import v2  # noqa: E402

from utils.augment import PRESETS, Augmentation, mixup, preset, presets  # noqa: E402
from utils.plots import plot_augmentations  # noqa: E402

COLOUR = torch.rand(3, 32, 32, generator=torch.Generator().manual_seed(0))
GREY = torch.rand(1, 8, 8, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("name", PRESETS)
@pytest.mark.parametrize("image", [COLOUR, GREY], ids=["colour 3x32x32", "grey 1x8x8"])
def test_presets_keep_shape_dtype_range_and_labels(name, image):
    augment = preset(name, size=image.shape[-1], generator=0)
    for _ in range(20):
        out, label = augment(image, 7)
        assert out.shape == image.shape and out.dtype == image.dtype
        assert 0 <= out.min() and out.max() <= 1
        assert label == 7
    tensor_label = torch.tensor(3)
    assert augment(image, tensor_label)[1] is tensor_label
    assert torch.equal(image, COLOUR if image.shape[0] == 3 else GREY)  # the input itself is untouched


def test_none_is_the_identity():
    assert torch.equal(preset("none", size=32)(COLOUR), COLOUR)


@pytest.mark.parametrize("name", [name for name in PRESETS if name != "none"])
def test_presets_are_random_but_reproducible_from_a_seed_or_a_generator(name):
    def draws(generator):
        augment = preset(name, size=32, generator=generator)
        torch.manual_seed(len(name))  # the global random numbers must not matter...
        first = [augment(COLOUR) for _ in range(3)]
        torch.rand(100)  # ...nor how many of them are used in between
        return first + [augment(COLOUR) for _ in range(7)]

    by_seed, again = draws(5), draws(torch.Generator().manual_seed(5))
    assert all(torch.equal(a, b) for a, b in zip(by_seed, again))
    assert len({tuple(x.flatten().tolist()) for x in by_seed}) > 1  # it does vary from call to call
    assert not all(torch.equal(a, b) for a, b in zip(by_seed, draws(6)))


def test_a_preset_with_its_own_generator_leaves_the_global_random_numbers_alone():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    preset("geometric", size=32, generator=1)(COLOUR)
    assert torch.equal(torch.rand(3), expected)


class Augmented(torch.utils.data.Dataset):
    """Four copies of one image, augmented with a seeded preset, as a training set would be."""

    def __init__(self):
        self.augment = preset("colour", size=32, generator=0)

    def __len__(self):
        return 4

    def __getitem__(self, index):
        return self.augment(COLOUR)


def test_worker_processes_draw_afresh_each_epoch_and_repeat_across_runs():
    def two_epochs():
        loader = torch.utils.data.DataLoader(Augmented(), batch_size=1, num_workers=2,
                                             generator=torch.Generator().manual_seed(0))
        return [torch.cat(list(loader)) for _ in range(2)]

    first, second = two_epochs()
    assert len({tuple(x.flatten().tolist()) for x in torch.cat([first, second])}) == 8  # all differ
    assert all(torch.equal(a, b) for a, b in zip(two_epochs(), (first, second)))


def test_without_a_generator_the_global_seed_decides():
    augment = preset("colour", size=32)
    torch.manual_seed(3)
    first = augment(COLOUR)
    torch.manual_seed(3)
    assert torch.equal(augment(COLOUR), first)


def test_cifar_crops_are_shifted_and_perhaps_flipped_copies_of_the_padded_image():
    padded = torch.nn.functional.pad(COLOUR, (4, 4, 4, 4))
    windows = {(dy, dx, flip): padded[:, dy:dy + 32, dx:dx + 32].flip(-1) if flip else padded[:, dy:dy + 32, dx:dx + 32]
               for dy in range(9) for dx in range(9) for flip in (False, True)}
    augment = preset("cifar", size=32, generator=0)
    found = []
    for _ in range(20):
        out = augment(COLOUR)
        found += [key for key, window in windows.items() if torch.equal(out, window)]
    assert len(found) == 20  # each output is exactly one window
    assert {flip for _, _, flip in found} == {False, True} and len({key[:2] for key in found}) > 5
    unflipped = preset("cifar", size=32, flip=False, generator=0)
    outputs = [unflipped(COLOUR) for _ in range(20)]
    assert all(any(torch.equal(out, windows[dy, dx, False]) for dy in range(9) for dx in range(9)) for out in outputs)
    assert all(not any(isinstance(t, v2.RandomHorizontalFlip) for t in p.modules())
               for p in presets(size=32, flip=False).values())


def test_noise_has_the_stated_strength_and_erasing_zeroes_a_rectangle_half_the_time():
    grey = torch.full((3, 32, 32), 0.5)  # mid-grey: the noise is almost never clipped
    noise = preset("noise", size=32, generator=0)(grey) - grey
    assert 0.09 < noise.std() < 0.11 and abs(noise.mean()) < 0.01
    erase = preset("erasing", size=32, generator=0)
    erased = 0
    for _ in range(40):
        zeros = erase(grey) == 0
        if zeros.any():
            erased += 1
            rows, cols = zeros[0].any(dim=1).nonzero(), zeros[0].any(dim=0).nonzero()
            assert zeros.sum() == 3 * len(rows) * len(cols)  # one whole rectangle, every channel
            assert 0.02 * 1024 <= len(rows) * len(cols) <= 0.25 * 1024
    assert 10 <= erased <= 30  # p = 0.5


def test_bad_inputs_say_what_to_do():
    with pytest.raises(ValueError, match="no augmentation preset 'flip'; the presets are none, geometric"):
        preset("flip", size=32)
    with pytest.raises(TypeError, match=r"float image.*got a torch.uint8 tensor.*ToDtype"):
        preset("noise", size=32)((COLOUR * 255).to(torch.uint8))
    with pytest.raises(TypeError, match="got ndarray"):
        preset("none", size=32)(COLOUR.numpy())
    with pytest.raises(TypeError, match="generator='0'"):
        preset("none", size=32, generator="0")


def test_an_old_torchvision_without_gaussian_noise_is_told_to_upgrade(monkeypatch):
    monkeypatch.delattr(v2, "GaussianNoise")
    with pytest.raises(RuntimeError, match=r"'noise' preset needs v2.GaussianNoise.*Upgrade torchvision"):
        preset("noise", size=32)
    assert torch.equal(preset("none", size=32)(COLOUR), COLOUR)  # the other presets still work


def test_presets_builds_every_preset_with_its_own_generator():
    all_presets = presets(size=32, seed=0)
    assert list(all_presets) == list(PRESETS)
    assert all(isinstance(p, Augmentation) and p.name == name for name, p in all_presets.items())
    assert len({p.generator.initial_seed() for p in all_presets.values()}) == len(PRESETS)


BATCH = torch.rand(6, 3, 4, 4, generator=torch.Generator().manual_seed(2))
LABELS = torch.tensor([0, 1, 1, 3, 2, 0])


def test_mixup_agrees_with_torchvision_number_for_number():
    torch.manual_seed(11)
    images, labels = v2.MixUp(alpha=0.4, num_classes=4)(BATCH, LABELS)
    torch.manual_seed(11)
    mine = mixup(BATCH, LABELS, num_classes=4, alpha=0.4)
    assert torch.equal(mine.images, images) and torch.equal(mine.labels, labels)


def test_mixup_soft_labels_sum_to_one_and_reflect_lambda():
    mixed = mixup(BATCH, LABELS, num_classes=4, generator=0)
    lam = mixed.lam
    assert 0 < lam < 1 and mixed.labels.shape == (6, 4)
    torch.testing.assert_close(mixed.labels.sum(dim=1), torch.ones(6))
    for i in range(6):
        own, neighbour = LABELS[i].item(), LABELS[i - 1].item()
        torch.testing.assert_close(mixed.images[i], lam * BATCH[i] + (1 - lam) * BATCH[i - 1])
        if own == neighbour:
            assert mixed.labels[i, own] == pytest.approx(1.0)
        else:
            assert mixed.labels[i, own] == pytest.approx(lam) and mixed.labels[i, neighbour] == pytest.approx(1 - lam)
    assert mixup(BATCH, LABELS, num_classes=4, generator=0).lam == lam
    assert mixup(BATCH, LABELS, num_classes=4, generator=1).lam != lam
    # the soft labels go straight into cross-entropy
    assert torch.isfinite(torch.nn.functional.cross_entropy(torch.zeros(6, 4), mixed.labels))


def test_mixup_explains_bad_labels():
    with pytest.raises(ValueError, match=r"class indices 0..2 \(num_classes=3\); got torch.int64 values from 0 to 3"):
        mixup(BATCH, LABELS, num_classes=3)
    with pytest.raises(ValueError, match=r"images of shape \(3, 4, 4\)"):
        mixup(BATCH[0], LABELS, num_classes=4)


def pixels(ax):
    return np.asarray(ax.get_images()[0].get_array())


def test_the_gallery_shows_each_preset_in_a_row_and_is_reproducible():
    fig = plot_augmentations(COLOUR, presets(size=32), samples=3, title="Augmentations")
    axes = np.array(fig.axes).reshape(len(PRESETS), 4)
    assert fig._suptitle.get_text() == "Augmentations"
    assert [row[0].get_ylabel() for row in axes] == list(PRESETS)
    assert [ax.get_title() for ax in axes[0]] == ["original", "sample 1", "sample 2", "sample 3"]
    original = COLOUR.permute(1, 2, 0).numpy()
    assert all(np.array_equal(pixels(row[0]), original) for row in axes)
    assert all(np.array_equal(pixels(ax), original) for ax in axes[0])  # "none" changes nothing
    again = np.array(plot_augmentations(COLOUR, presets(size=32), samples=3).axes).reshape(len(PRESETS), 4)
    assert all(np.array_equal(pixels(a), pixels(b)) for a, b in zip(axes.flat, again.flat))
    plt.close("all")


def test_the_gallery_draws_grey_images_on_a_fixed_scale_and_rejects_batches():
    fig = plot_augmentations(GREY[0] * 0.5, {"none": preset("none", size=8)}, samples=1)
    image = fig.axes[0].get_images()[0]
    assert image.get_clim() == (0, 1) and image.get_cmap().name == "gray_r"
    with pytest.raises(ValueError, match=r"one image \[C, H, W\].*\(2, 3, 32, 32\)"):
        plot_augmentations(torch.stack([COLOUR, COLOUR]), presets(size=32))
    plt.close("all")
