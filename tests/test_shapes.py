"""utils/shapes.py: Shapes-10 is deterministic, varied, written atomically, rebuilt when it does
not match what is asked for, and read by the same loaders from disk or from memory."""
import json
import os
import signal

import numpy as np
import pytest
import torch

from utils import shapes
from utils.imagesets import ImageFiles, ImagesInMemory
from utils.shapes import SHAPES_CLASSES, make_shapes, render_shapes, shapes_loaders

TINY = dict(size=16, train_size=20, val_size=10, test_size=10)


@pytest.fixture
def tiny(tmp_path):
    """A 40-image set at 16×16 in its own folder."""
    return make_shapes(tmp_path / "shapes", quiet=True, **TINY)


def fingerprint(root):
    return {path.relative_to(root).as_posix(): path.stat().st_mtime_ns for path in root.rglob("*") if path.is_file()}


# --------------------------------------------------------------------------- the images

def test_rendering_is_deterministic_and_follows_the_seed():
    images, labels = render_shapes(20, size=16, seed=3)
    again, _ = render_shapes(20, size=16, seed=3)
    other, _ = render_shapes(20, size=16, seed=4)
    assert images.shape == (20, 16, 16, 3) and images.dtype == np.uint8
    assert labels.tolist() == [i % 10 for i in range(20)]
    assert np.array_equal(images, again) and not np.array_equal(images, other)
    fewer, _ = render_shapes(5, size=16, seed=3)
    assert np.array_equal(fewer, images[:5])  # image i does not depend on how many are asked for
    val, _ = render_shapes(5, size=16, seed=3, split="val")
    assert not np.array_equal(val, images[:5])  # each split has its own images


def test_images_vary_within_a_class_and_are_not_separable_by_their_mean():
    images, labels = render_shapes(400, size=16, seed=0)
    pixels = images.reshape(len(images), -1).astype(np.float32) / 255
    # every circle differs: position, scale, colour and background all change
    circles = pixels[labels == 0]
    assert np.abs(circles[:, None] - circles[None]).mean(-1)[np.triu_indices(len(circles), 1)].min() > 0.05
    # a nearest-class-mean classifier on raw pixels, tested on new images, is close to chance (10 %):
    # no class is given away by its average colour or position
    means = np.stack([pixels[labels == k].mean(0) for k in range(10)])
    test_images, test_labels = render_shapes(200, size=16, seed=1)
    test_pixels = test_images.reshape(200, -1).astype(np.float32) / 255
    guesses = ((test_pixels[:, None] - means[None]) ** 2).sum(-1).argmin(1)
    assert (guesses == test_labels).mean() < 0.3


# ------------------------------------------------------------------------ the folder on disk

def test_the_folder_is_an_image_folder_with_a_manifest(tiny):
    assert sorted(p.name for p in tiny.iterdir()) == ["manifest.json", "test", "train", "val"]
    assert sorted(p.name for p in (tiny / "train").iterdir()) == sorted(SHAPES_CLASSES)
    assert sorted(p.name for p in (tiny / "train" / "heart").iterdir()) == ["0000.png", "0001.png"]
    manifest = json.loads((tiny / "manifest.json").read_text())
    assert manifest["counts"] == {"train": 20, "val": 10, "test": 10} and manifest["files"] == 40
    assert manifest["size"] == 16 and manifest["seed"] == 0 and len(manifest["sha256"]) == 64
    assert not list(tiny.parent.glob(".*"))  # no working folder left behind


def test_a_complete_folder_is_reused_untouched(tiny, monkeypatch):
    before = fingerprint(tiny)
    monkeypatch.setattr(shapes, "_write", lambda *args: pytest.fail("regenerated a complete folder"))
    assert make_shapes(tiny, quiet=True, **TINY) == tiny
    assert fingerprint(tiny) == before


@pytest.mark.parametrize("damage, reason", [
    (lambda root: (root / "val" / "star" / "0000.png").unlink(), "1 of its files are missing"),
    (lambda root: (root / "train" / "ring" / "0001.png").write_bytes(b"not a png"), "do not match the checksum"),
    (lambda root: (root / "manifest.json").unlink(), "no manifest.json"),
    (lambda root: (root / "train" / "ring" / "extra.png").write_bytes(b""), "not part of the set"),
])
def test_a_damaged_folder_is_generated_again(tiny, capsys, damage, reason):
    damage(tiny)
    make_shapes(tiny, **TINY)
    assert reason in capsys.readouterr().out  # the learner is told why it is generated again
    assert shapes._problem(tiny, shapes._settings(16, {"train": 20, "val": 10, "test": 10}, 0)) is None


@pytest.mark.parametrize("change", [dict(size=8), dict(train_size=30), dict(seed=1)])
def test_a_changed_setting_rebuilds_the_folder(tiny, capsys, change):
    asked = {**TINY, **change}
    make_shapes(tiny, **asked)
    assert "made with other settings" in capsys.readouterr().out
    manifest = json.loads((tiny / "manifest.json").read_text())
    assert manifest["size"] == asked["size"] and manifest["counts"]["train"] == asked["train_size"]
    assert manifest["seed"] == asked.get("seed", 0)


def test_the_default_folder_names_its_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA", str(tmp_path))
    assert make_shapes(quiet=True, **TINY) == tmp_path / "shapes10" / "16px-20-10-10-seed0"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork to kill a writer midway")
def test_a_writer_killed_midway_leaves_nothing_that_looks_complete(tmp_path, monkeypatch):
    root = tmp_path / "shapes"
    real_render = shapes.render_shapes

    def render_then_die(count, *, split, **kwargs):
        if split == "val":  # the training images are on disk by now
            os.kill(os.getpid(), signal.SIGKILL)
        return real_render(count, split=split, **kwargs)

    pid = os.fork()
    if pid == 0:  # the child: a run that is killed while it writes
        monkeypatch.setattr(shapes, "render_shapes", render_then_die)
        make_shapes(root, quiet=True, **TINY)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    assert not root.exists()  # only a hidden working folder was there
    leftover, = tmp_path.glob(".shapes.partial-*")
    assert len(list(leftover.rglob("*.png"))) == 20
    make_shapes(root, quiet=True, **TINY)
    assert len(list(root.rglob("*.png"))) == 40
    assert not leftover.exists()  # the dead run's folder is cleaned up


def test_a_folder_finished_meanwhile_by_another_process_is_kept(tmp_path, monkeypatch):
    root = tmp_path / "shapes"
    real_write = shapes._write

    def write_while_another_finishes(folder, settings):
        real_write(folder, settings)
        monkeypatch.setattr(shapes, "_write", real_write)
        make_shapes(root, quiet=True, **TINY)  # the other process wins the race
        monkeypatch.setattr(shapes, "_write", write_while_another_finishes)

    monkeypatch.setattr(shapes, "_write", write_while_another_finishes)
    make_shapes(root, quiet=True, **TINY)
    assert shapes._problem(root, shapes._settings(16, {"train": 20, "val": 10, "test": 10}, 0)) is None
    assert not list(tmp_path.glob(".*"))


def test_a_folder_with_other_files_is_never_overwritten(tmp_path):
    precious = tmp_path / "mine"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    with pytest.raises(FileExistsError, match="mine holds files that are not Shapes-10's.*thesis.tex"):
        make_shapes(precious, quiet=True, **TINY)
    assert (precious / "thesis.tex").read_text() == "years of work"


@pytest.mark.parametrize("asked, message", [
    (dict(size=4), "size=4: give the side"),
    (dict(size=32.0), "size=32.0"),
    (dict(val_size=5), "val_size=5: .* at least 10"),
])
def test_bad_settings_are_explained(tmp_path, asked, message):
    with pytest.raises(ValueError, match=message):
        make_shapes(tmp_path / "shapes", quiet=True, **{**TINY, **asked})


# ------------------------------------------------------------------------------ the loaders

def test_loaders_read_the_same_images_from_disk_and_from_memory(tiny):
    in_memory = shapes_loaders(8, root=tiny, device="cpu", **TINY)
    from_disk = shapes_loaders(8, root=tiny, device="cpu", in_memory=False, **TINY)
    assert isinstance(in_memory.train.dataset, ImagesInMemory) and isinstance(from_disk.train.dataset, ImageFiles)
    assert [len(loader.dataset) for loader in in_memory] == [20, 10, 10]
    for fast, slow in zip(in_memory, from_disk):
        for (X, y), (X2, y2) in zip(fast, slow):
            assert torch.equal(X, X2) and torch.equal(y, y2)
    X, y = next(iter(in_memory.val))
    assert X.shape == (8, 3, 16, 16) and X.dtype == torch.float32 and 0 <= X.min() and X.max() <= 1
    assert in_memory.val.dataset.classes == SHAPES_CLASSES and y.tolist() == list(range(8))  # sorted by class
    first = torch.from_numpy(render_shapes(1, size=16, split="val")[0][0]).permute(2, 0, 1)
    assert torch.equal((X[0] * 255).round().byte(), first)  # PNG is lossless: the pixels drawn


def test_augment_touches_only_training_images_and_transform_all(tiny):
    def augment(image):
        return image.flip(-1)

    def transform(image):
        return image - 1.0

    plain = shapes_loaders(20, root=tiny, device="cpu", **TINY)
    changed = shapes_loaders(20, root=tiny, device="cpu", augment=augment, transform=transform, **TINY)
    X, _ = plain.train.dataset[3]
    assert torch.equal(changed.train.dataset[3][0], X.flip(-1) - 1.0)  # augment first, then transform
    assert torch.equal(changed.val.dataset[3][0], plain.val.dataset[3][0] - 1.0)
    assert torch.equal(changed.test.dataset[3][0], plain.test.dataset[3][0] - 1.0)


def test_training_order_is_seeded(tiny):
    def first_labels(seed):
        return next(iter(shapes_loaders(10, root=tiny, seed=seed, device="cpu", **TINY).train))[1]

    assert torch.equal(first_labels(0), first_labels(0))
    assert not torch.equal(first_labels(0), first_labels(1))
