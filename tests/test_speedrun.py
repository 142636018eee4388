"""The speed-run recipe and its ablation (chapter 15): utils.speedrun."""
import dataclasses

import pytest
import torch
from torch import nn

from tests.test_imagesets import cifar_checksums, no_internet, write_cifar  # noqa: F401  (fixtures)
from utils import shapes, speedrun
from utils.data import DataUnavailable
from utils.speedrun import (Lookahead, Recipe, SpeedNet, SpeedrunData, ablation, flip_tta_logits, load_speedrun_data,
                            lr_multiplier, recipe_for, train_speedrun, whitening_filters)

#: A recipe small enough for a test: one epoch of four steps on 64 random images.
TINY = Recipe(epochs=1, batch_size=16, widths=(8, 8, 8))


def random_data(train=64, test=32, size=16, seed=0) -> SpeedrunData:
    generator = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (train + test, 3, size, size), dtype=torch.uint8, generator=generator)
    labels = torch.arange(train + test) % 10
    return SpeedrunData.from_uint8(images[:train], labels[:train], images[train:], labels[train:], name="random")


def test_whitening_gives_the_patches_it_was_fitted_on_an_identity_covariance():
    generator = torch.Generator().manual_seed(0)
    mixing = torch.eye(3) + 0.4 * torch.randn(3, 3, generator=generator)  # correlated channels …
    images = torch.einsum("ij,njhw->nihw", mixing, torch.randn(200, 3, 12, 12, generator=generator))
    images = images + 0.6 * images.roll(1, dims=3) + 2.0  # … correlated neighbours, and a mean
    patches = images.unfold(2, 2, 1).unfold(3, 2, 1).permute(0, 2, 3, 1, 4, 5).reshape(-1, 12)
    assert (patches.T.cov() - torch.eye(12)).abs().max() > 1  # far from white before

    net = SpeedNet(TINY)
    net.whiten(images)
    with torch.no_grad():
        outputs = nn.functional.conv2d(images, net.stem.weight, net.stem.bias)  # the stem without its padding
    channels = outputs.permute(1, 0, 2, 3).reshape(24, -1)
    whitened, negatives = channels[:12], channels[12:]
    assert torch.allclose(whitened.cov(), torch.eye(12), atol=0.01)
    assert whitened.mean(1).abs().max() < 1e-3  # the bias centres them
    assert torch.equal(negatives, -whitened)  # GELU sees both signs
    assert not net.stem.weight.requires_grad and net.stem.bias.requires_grad


def test_whitening_filters_are_ordered_by_variance_and_damped_by_eps():
    images = torch.randn(50, 3, 8, 8) * torch.tensor([3.0, 1.0, 0.01])[:, None, None]  # one channel nearly flat
    filters, _ = whitening_filters(images, eps=1e-2)
    patches = images.unfold(2, 2, 1).unfold(3, 2, 1).permute(0, 2, 3, 1, 4, 5).reshape(-1, 12)
    variances = (patches @ filters.reshape(12, 12).T).var(0)
    assert variances[0] == pytest.approx(1, abs=0.02)  # the strongest direction: white
    assert variances[-1] < 0.05  # the flat channel (variance 1e-4) is not blown up to 1 by eps


def test_lookahead_pulls_the_weights_to_their_moving_average():
    model = nn.Sequential(nn.Linear(2, 1, bias=False), nn.BatchNorm1d(1))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0, 2.0]]))
    lookahead = Lookahead(model)
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[5.0, -2.0]]))
        model[1].running_mean.fill_(4.0)
    lookahead.update(model, decay=0.75)
    expected = torch.tensor([[0.75 * 1 + 0.25 * 5, 0.75 * 2 + 0.25 * -2]])
    assert torch.allclose(model[0].weight, expected) and torch.allclose(lookahead.average["0.weight"], expected)
    assert model[1].running_mean.item() == pytest.approx(1.0)  # batch norm's statistics too: 0.75·0 + 0.25·4
    assert model[1].num_batches_tracked.item() == 0  # integer counters are left alone
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[9.0, 9.0]]))
    lookahead.update(model, decay=1.0)  # the end of training: back to the average, unchanged
    assert torch.allclose(model[0].weight, expected)


def test_test_time_flip_averages_an_image_and_its_mirror():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(4 * 6 * 6, 10)).eval()
    images = torch.randn(5, 3, 8, 8)
    mirrored = images.flip(-1)
    assert not torch.allclose(model(images), model(mirrored))  # the model itself cares about the side
    averaged = flip_tta_logits(model, images)
    assert torch.allclose(averaged, (model(images) + model(mirrored)) / 2)
    assert torch.allclose(flip_tta_logits(model, mirrored), averaged, atol=1e-6)  # mirror-blind
    assert torch.allclose(flip_tta_logits(model, images, model(images)), averaged)


def test_the_schedule_warms_up_then_decays_to_nearly_zero():
    total = 100
    rates = [lr_multiplier(step, total, warmup=0.2) for step in range(total + 1)]
    warmup, decay = rates[:21], rates[20:]
    assert rates[0] == pytest.approx(0.1) and max(rates) == rates[20] == 1
    assert all(a < b for a, b in zip(warmup, warmup[1:]))
    assert all(a > b for a, b in zip(decay, decay[1:]))
    assert rates[-1] == pytest.approx(0, abs=1e-9) and rates[-2] < 0.02


def test_one_tiny_epoch_on_random_data_is_deterministic():
    data = random_data()
    first, again = train_speedrun(TINY, data, seed=0), train_speedrun(TINY, data, seed=0)
    other = train_speedrun(TINY, data, seed=1)
    assert first.steps == 4 and 0 <= first.accuracy <= 1 and first.seconds > 0
    assert (first.accuracy, first.plain_accuracy) == (again.accuracy, again.plain_accuracy)
    weights, same, different = (r.model.state_dict() for r in (first, again, other))
    assert all(torch.equal(weights[name], same[name]) for name in weights)
    assert not all(torch.equal(weights[name], different[name]) for name in weights)


def test_training_leaves_the_global_random_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    train_speedrun(TINY, random_data(), seed=5)
    assert torch.equal(torch.rand(3), expected)


def test_every_trick_can_be_switched_off_and_the_net_still_trains():
    off = dataclasses.replace(TINY, label_smoothing=0.0, flip=False, translate=0, tta_flip=False, whiten=False,
                              bn_tweaks=False, ema=False)
    result = train_speedrun(off, random_data())
    assert result.accuracy == result.plain_accuracy
    assert result.model.stem.weight.requires_grad  # not whitened: a learned first layer
    assert all(norm.weight.requires_grad for norm in result.model.modules() if isinstance(norm, nn.BatchNorm2d))


def test_translate_moves_images_by_whole_pixels_with_reflected_borders():
    images = torch.arange(2 * 3 * 6 * 6, dtype=torch.float32).reshape(2, 3, 6, 6)
    recipe = dataclasses.replace(TINY, flip=False, translate=2)
    moved = speedrun._augment(images, recipe, 0, torch.zeros(2, dtype=torch.bool), torch.Generator().manual_seed(0))
    padded = nn.functional.pad(images, (2, 2, 2, 2), mode="reflect")
    for image, result in zip(padded, moved):
        crops = [image[:, y:y + 6, x:x + 6] for y in range(5) for x in range(5)]
        assert any(torch.equal(result, crop) for crop in crops)


def test_flip_alternates_each_image_between_epochs():
    images = torch.randn(8, 3, 4, 4)
    recipe = dataclasses.replace(TINY, flip=True, translate=0)
    flips = torch.tensor([True, False] * 4)
    even, odd = (speedrun._augment(images, recipe, epoch, flips, torch.Generator()) for epoch in (0, 1))
    assert torch.equal(even[0], images[0].flip(-1)) and torch.equal(even[1], images[1])
    assert torch.equal(odd[0], images[0]) and torch.equal(odd[1], images[1].flip(-1))


def test_the_ablation_switches_tricks_off_and_reuses_a_run_for_test_time_flip():
    rows = {"full recipe": {}, "no test-time flip": {"tta_flip": False}, "no whitening": {"whiten": False}}
    table = ablation(TINY, random_data(), rows, seeds=(0, 1))
    assert [row["row"] for row in table] == list(rows)
    full, no_tta, no_whitening = table
    assert no_tta["seconds"] == full["seconds"]  # the same nets, tested without the flip
    assert no_whitening["seconds"] != full["seconds"]
    assert all(0 <= row["accuracy"] <= 1 and row["spread"] >= 0 for row in table)
    with pytest.raises(ValueError, match="'no dropout' changes \\['dropout'\\]"):
        ablation(TINY, random_data(), {"no dropout": {"dropout": 0}})


def test_recipes_for_each_profile_and_a_clear_error_for_others():
    quick, full = recipe_for("quick"), recipe_for("full")
    assert full.batch_size >= 1024 and full.widths[0] >= quick.widths[0]
    with pytest.raises(ValueError, match="'fast'.*'quick', 'full'"):
        recipe_for("fast")


def test_the_quick_data_are_shapes10_standardised(monkeypatch):
    real = shapes.make_shapes
    monkeypatch.setattr(shapes, "make_shapes", lambda size: real(size=size, train_size=30, val_size=10, test_size=20,
                                                                 quiet=True))  # a small folder, to be quick
    data = load_speedrun_data("quick", "cpu", size=8)
    assert data.train_images.shape == (30, 3, 8, 8) and data.test_images.shape == (20, 3, 8, 8)
    assert torch.allclose(data.train_images.mean((0, 2, 3)), torch.zeros(3), atol=1e-4)
    assert torch.allclose(data.train_images.std((0, 2, 3)), torch.ones(3), atol=1e-4)
    assert torch.bincount(data.test_labels).tolist() == [2] * 10


def test_the_full_profile_runs_on_files_shaped_like_cifar10(tmp_path, monkeypatch, cifar_checksums, no_internet):
    cifar_checksums(write_cifar(tmp_path / "cifar-10-batches-py", per_batch=8))
    monkeypatch.setenv("COURSE_DATA", str(tmp_path))
    data = load_speedrun_data("full", "cpu")
    assert data.train_images.shape == (40, 3, 32, 32) and data.test_images.shape == (8, 3, 32, 32)
    recipe = dataclasses.replace(recipe_for("full"), epochs=2)  # full's net and batches; 2 epochs, to be quick
    result = train_speedrun(recipe, data)  # one batch of all 40 images an epoch
    assert result.steps == 2 and 0 <= result.accuracy <= 1


def test_the_full_profile_offline_says_how_to_get_cifar10(tmp_path, monkeypatch, no_internet):
    monkeypatch.setenv("COURSE_DATA", str(tmp_path))
    with pytest.raises(DataUnavailable, match="CIFAR-10.*quick profile"):
        load_speedrun_data("full", "cpu")


def test_images_that_are_not_uint8_rgb_are_refused_with_their_shape():
    with pytest.raises(ValueError, match=r"train_images: expected uint8 images \[N, 3, H, W\]; got torch.float32"):
        SpeedrunData.from_uint8(torch.zeros(4, 3, 8, 8), torch.zeros(4), torch.zeros(2, 3, 8, 8, dtype=torch.uint8),
                                torch.zeros(2), name="bad")
