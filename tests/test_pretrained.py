"""utils/pretrained.py: the course's backbone is cached atomically and rebuilt, with one line saying
why, for every reason a cache cannot be used; the transfer tasks; ImageNet's ResNet-18 offline.
And utils/shapes.py's novel classes, the related target task."""
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
import torch

from utils import checkpoints, pretrained
from utils.pretrained import (BackboneSettings, WeightsUnavailable, imagenet_resnet18, pretrained_backbone,
                              sample_per_class, standardise_each, target_task)
from utils.shapes import NOVEL_CLASSES, SHAPES_CLASSES, render_shapes

TINY = BackboneSettings(images=40, size=8, epochs=1, batch_size=20)  # a second's pre-training


@pytest.fixture
def cache(tmp_path):
    """A cache file written by pre-training TINY once."""
    path = tmp_path / "backbone.pt"
    pretrained_backbone(TINY, path=path, quiet=True)
    return path


def weights(model):
    return {name: tensor.clone() for name, tensor in model.state_dict().items()}


def same_weights(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[name], b[name]) for name in a)


def rebuild_message(capsys):
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("Pre-training")]
    assert len(lines) == 1, "a rebuild says why in exactly one line"
    return lines[0]


# ------------------------------------------------------------------------- the novel shapes

def test_novel_shapes_are_deterministic_and_not_shapes10():
    images, labels = render_shapes(20, size=16, seed=3, classes="novel")
    again, _ = render_shapes(20, size=16, seed=3, classes="novel")
    shapes10, _ = render_shapes(20, size=16, seed=3)
    assert images.shape == (20, 16, 16, 3) and labels.tolist() == [i % 10 for i in range(20)]
    assert np.array_equal(images, again)
    assert not np.array_equal(images, shapes10)
    assert not any(np.array_equal(a, b) for a, b in zip(images, shapes10))  # not even one image shared
    assert not set(NOVEL_CLASSES) & set(SHAPES_CLASSES) and len(set(NOVEL_CLASSES)) == 10


@pytest.mark.parametrize("options, message", [
    (dict(classes="new"), "classes='new': choose one of 'shapes10', 'novel'"),
    (dict(split="training"), "split='training': choose one of 'train', 'val', 'test'"),
])
def test_bad_classes_or_split_are_explained(options, message):
    with pytest.raises(ValueError, match=message):
        render_shapes(2, size=8, **options)


# ---------------------------------------------------------------------------------- the cache

def test_an_empty_cache_is_filled_then_reused_with_the_same_weights(tmp_path, capsys):
    before = torch.random.get_rng_state()
    first = pretrained_backbone(TINY, path=tmp_path / "backbone.pt")
    assert "there is no cached backbone yet" in rebuild_message(capsys)
    assert torch.equal(torch.random.get_rng_state(), before)  # the global random state is left alone
    again = pretrained_backbone(TINY, path=tmp_path / "backbone.pt")
    assert "Pre-training" not in capsys.readouterr().out
    assert same_weights(weights(first), weights(again)) and not again.training
    elsewhere = pretrained_backbone(TINY, path=tmp_path / "other" / "backbone.pt", quiet=True)
    assert same_weights(weights(first), weights(elsewhere))  # deterministic from an empty cache
    manifest = torch.load(tmp_path / "backbone.pt", weights_only=True)["manifest"]
    assert manifest["settings"]["images"] == 40 and manifest["torch"] == str(torch.__version__)


def test_the_default_cache_lives_under_course_data(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA", str(tmp_path))
    pretrained_backbone(TINY, quiet=True)
    assert (tmp_path / "pretrained" / "shapes10-backbone.pt").is_file()


def cut_short(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def not_a_checkpoint(path):
    path.write_text("not a checkpoint")


def someone_elses_checkpoint(path):
    torch.save({"model": {"weight": torch.zeros(2)}}, path)


def changed_weights(path):
    state = torch.load(path, weights_only=True)
    state["weights"]["fc.bias"] += 1
    torch.save(state, path)


def other_architecture(path):  # what a changed utils.resnet would meet: keys that no longer fit
    state = torch.load(path, weights_only=True)
    state["weights"]["fc.weight"] = torch.zeros(10, 7)
    state["manifest"]["sha256"] = pretrained._weights_checksum(state["weights"])
    torch.save(state, path)


@pytest.mark.parametrize("damage, reason", [
    (lambda path: path.unlink(), "there is no cached backbone yet"),
    (cut_short, "it cannot be read (RuntimeError: "),
    (not_a_checkpoint, "it cannot be read (UnpicklingError: "),
    (someone_elses_checkpoint, "it is not a checkpoint of the course's backbone"),
    (changed_weights, "its weights do not match the checksum in its manifest"),
    (other_architecture, "its weights do not fit the network utils.resnet builds now"),
])
def test_a_cache_that_cannot_be_used_is_rebuilt_saying_why(cache, capsys, damage, reason):
    good = weights(pretrained_backbone(TINY, path=cache, quiet=True))
    damage(cache)
    rebuilt = pretrained_backbone(TINY, path=cache)
    message = rebuild_message(capsys)
    assert reason in message and str(cache) in message
    if "cannot be read" in reason:
        assert message.endswith("the file is cut short or not a checkpoint.")
    assert same_weights(weights(rebuilt), good)
    pretrained_backbone(TINY, path=cache)  # the rebuilt file is used from now on
    assert "Pre-training" not in capsys.readouterr().out


def test_a_cache_from_other_settings_is_rebuilt_naming_them(cache, capsys):
    model = pretrained_backbone(BackboneSettings(images=40, size=8, epochs=2, batch_size=20), path=cache)
    assert "it was made with other settings (epochs 1, not 2)" in rebuild_message(capsys)
    assert not same_weights(weights(model), weights(pretrained_backbone(TINY, path=cache.with_name("b.pt"),
                                                                        quiet=True)))


def test_an_architecture_change_in_the_settings_is_rebuilt(cache, capsys):
    model = pretrained_backbone(BackboneSettings(images=40, size=8, epochs=1, batch_size=20, width=8), path=cache)
    assert "width 16, not 8" in rebuild_message(capsys)
    assert model.fc.in_features == 32


def test_a_cache_write_that_dies_midway_leaves_the_old_cache_whole(cache, monkeypatch):
    good = cache.read_bytes()

    def dies_midway(state, file):
        file.write(b"half a checkpoint")
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoints.torch, "save", dies_midway)
    with pytest.raises(KeyboardInterrupt):
        pretrained_backbone(BackboneSettings(images=40, size=8, epochs=2, batch_size=20), path=cache, quiet=True)
    assert cache.read_bytes() == good
    assert sorted(p.name for p in cache.parent.iterdir()) == [cache.name]  # no temporary file left


def test_a_cache_that_cannot_be_written_is_said_and_the_backbone_still_returned(tmp_path, capsys):
    (tmp_path / "a file").write_text("not a folder")
    path = tmp_path / "a file" / "backbone.pt"
    model = pretrained_backbone(TINY, path=path, quiet=True)
    said = capsys.readouterr().out
    assert f"it cannot be cached in {path}" in said and "Set COURSE_DATA" in said
    assert same_weights(weights(model), weights(pretrained_backbone(TINY, path=tmp_path / "b.pt", quiet=True)))


def test_bad_settings_are_explained(tmp_path):
    with pytest.raises(TypeError, match=r"settings=\{'epochs': 2\}: give a BackboneSettings"):
        pretrained_backbone({"epochs": 2}, path=tmp_path / "b.pt")


# ---------------------------------------------------------------------------------- the tasks

def test_standardise_each_scales_every_image_on_its_own():
    images = torch.rand(4, 3, 8, 8) * torch.tensor([1.0, 5.0, 0.1, 2.0]).view(4, 1, 1, 1) + 3
    scaled = standardise_each(images)
    assert torch.allclose(scaled.mean((1, 2, 3)), torch.zeros(4), atol=1e-5)
    assert torch.allclose(scaled.std((1, 2, 3)), torch.ones(4), atol=1e-4)
    assert torch.equal(standardise_each(torch.full((1, 3, 2, 2), 7.0)), torch.zeros(1, 3, 2, 2))
    with pytest.raises(ValueError, match=r"images of shape \(3, 8, 8\): give a batch \[N, C, H, W\]"):
        standardise_each(images[0])


def test_the_related_target_has_k_labels_per_class_and_a_fixed_test_set():
    task = target_task("shapes", 2, seed=1, size=8)
    images, labels = task.train.tensors
    assert images.shape == (20, 3, 8, 8) and images.dtype == torch.float32
    assert torch.bincount(labels).tolist() == [2] * 10 and task.classes == NOVEL_CLASSES
    assert len(task.test) == 1000
    other = target_task("shapes", 3, seed=2, size=8)
    assert torch.equal(other.test.tensors[0], task.test.tensors[0])  # the same test set for every seed
    assert not torch.equal(other.train.tensors[0][:20], images)  # another seed, other training images
    more = target_task("shapes", 3, seed=1, size=8)
    assert torch.equal(more.train.tensors[0][:20], images)  # more labels keep the fewer ones


def test_the_unrelated_target_is_the_digits_in_three_channels():
    task = target_task("digits", 3, seed=0, size=16)
    images, labels = task.train.tensors
    assert images.shape == (30, 3, 16, 16) and torch.bincount(labels).tolist() == [3] * 10
    assert torch.equal(images[:, 0], images[:, 1]) and torch.equal(images[:, 0], images[:, 2])
    assert len(task.test) == 360 and task.classes == tuple("0123456789")
    more = target_task("digits", 5, seed=0, size=16).train.tensors[0]
    assert all(any(torch.equal(image, other) for other in more) for image in images)
    assert not torch.equal(target_task("digits", 3, seed=1, size=16).train.tensors[0], images)


@pytest.mark.parametrize("name, k, message", [
    ("cifar", 5, "target task 'cifar': choose 'shapes' .* or 'digits'"),
    ("shapes", 0, "labels_per_class=0: give a whole number from 1 to 1000 for the shapes task"),
    ("digits", 200, "labels_per_class=200: give a whole number from 1 to 100 for the digits task"),
    ("digits", 2.5, "labels_per_class=2.5: give a whole number"),
])
def test_bad_tasks_are_explained(name, k, message):
    with pytest.raises(ValueError, match=message):
        target_task(name, k)


# ------------------------------------------------------------------------- ImageNet's ResNet-18

def test_offline_the_imagenet_weights_fail_fast_with_the_manual_route(tmp_path, monkeypatch):
    import torchvision.models  # noqa: F401  (imported first: the clock below times the failure, not the import)

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))

    def no_network(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    started = time.perf_counter()
    with pytest.raises(WeightsUnavailable) as error:
        imagenet_resnet18(timeout=2)
    assert time.perf_counter() - started < 5
    message = str(error.value)
    assert "https://download.pytorch.org/models/resnet18-f37072fd.pth" in message
    assert str(tmp_path / "hub" / "checkpoints") in message and "TORCH_HOME" in message
    assert "name resolution" in message and "quick profile" in message
    assert not (tmp_path / "hub" / "checkpoints" / "resnet18-f37072fd.pth").exists()


def test_weights_placed_in_torch_home_are_used_without_the_network(tmp_path, monkeypatch):
    from torchvision.models import resnet18

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(pretrained, "_reachable", lambda *args: pytest.fail("the network was asked"))
    torch.manual_seed(0)
    placed = resnet18().state_dict()
    folder = tmp_path / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    # torchvision asks for check_hash=True, but torch.hub checks the hash only while downloading:
    # a file placed by hand is loaded whatever its bytes' hash
    torch.save(placed, folder / "resnet18-f37072fd.pth")
    model = imagenet_resnet18()
    assert same_weights(weights(model), placed) and not model.training


def test_a_damaged_placed_file_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    folder = tmp_path / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    (folder / "resnet18-f37072fd.pth").write_text("an HTML error page")
    with pytest.raises(WeightsUnavailable, match=r"resnet18-f37072fd.pth cannot be used as ResNet-18's ImageNet "
                                                 r"weights .*Delete it"):
        imagenet_resnet18()


def test_sample_per_class_takes_count_of_each_class_by_seed():
    labels = torch.tensor([0, 1, 2] * 7 + [2, 2])
    chosen = sample_per_class(labels, 3, seed=0)
    assert chosen.tolist() == sorted(chosen.tolist()) and len(set(chosen.tolist())) == 9
    assert torch.bincount(labels[chosen]).tolist() == [3, 3, 3]
    assert torch.equal(chosen, sample_per_class(labels, 3, seed=0))
    assert not torch.equal(chosen, sample_per_class(labels, 3, seed=1))
    assert torch.bincount(labels[sample_per_class(labels, 50, seed=0)]).tolist() == [7, 7, 9]  # all there are
