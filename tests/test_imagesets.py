"""utils/imagesets.py: the image reader, ImageFolder listings, CIFAR-10 read from files in its real
format (and downloaded from a local server, never the internet), and Food-11 checked for every way
a hand-placed copy goes wrong. Each error is asserted by its message."""
import functools
import hashlib
import http.server
import io
import pickle
import socket
import tarfile
import threading
import time
import urllib.request

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.datasets import CIFAR10

from utils.data import DataUnavailable
from utils.imagesets import (CIFAR10_CLASSES, FOOD11_CLASSES, BadDataFolder, ImageFiles, ImagesInMemory,
                             cifar10_loaders, class_examples, folder_samples, food11_loaders, food11_samples,
                             read_image, to_memory)


def save(path, pixels, **kwargs):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(pixels, dtype=np.uint8)).save(path, **kwargs)
    return path


def solid(value, height=12, width=12):
    return np.full((height, width, 3), value, dtype=np.uint8)


# ----------------------------------------------------------------------------- the reader

def test_read_image_gives_rgb_channels_first_and_crops_the_centre(tmp_path):
    wide = np.zeros((10, 30, 3), np.uint8)
    wide[:, 10:20] = (200, 100, 50)  # the middle third is coloured, the sides black
    X = read_image(save(tmp_path / "wide.png", wide))
    assert X.shape == (3, 10, 30) and X.dtype == torch.uint8 and X[:, 0, 15].tolist() == [200, 100, 50]
    square = read_image(tmp_path / "wide.png", size=5)  # shorter side to 5, then the middle 5×5
    assert square.shape == (3, 5, 5) and (square[0] > 150).all()
    grey = read_image(save(tmp_path / "grey.png", np.full((4, 4), 90)))
    assert grey.shape == (3, 4, 4) and (grey == 90).all()


def test_an_unreadable_image_is_named(tmp_path):
    (tmp_path / "broken.png").write_bytes(b"this is no image")
    with pytest.raises(BadDataFolder, match=r"broken.png cannot be read as an image .*Replace it"):
        read_image(tmp_path / "broken.png")


@pytest.fixture
def image_folder(tmp_path):
    for label, name in enumerate(("cat", "dog")):
        for index in range(3):
            save(tmp_path / "set" / name / f"{index}.png", solid(10 * label + index, 6, 6))
    (tmp_path / "set" / ".DS_Store").write_bytes(b"hidden files are the one thing ignored")
    return tmp_path / "set"


def test_folder_samples_number_classes_as_imagefolder_does(image_folder):
    samples, classes = folder_samples(image_folder)
    assert classes == ("cat", "dog") and [label for _, label in samples] == [0, 0, 0, 1, 1, 1]
    samples, classes = folder_samples(image_folder, ("dog", "cat"))  # an order given is kept
    assert classes == ("dog", "cat") and samples[0][0].parent.name == "dog" and samples[0][1] == 0


@pytest.mark.parametrize("damage, classes, message", [
    (lambda root: None, ("cat", "dog", "eel"), r"expected class folders cat, dog, eel; missing: eel"),
    (lambda root: (root / "emu").mkdir(), None, None),  # an empty class folder, see below
    (lambda root: (root / "emu").mkdir(), ("cat", "dog"), r"not a class: emu"),
    (lambda root: (root / "notes.txt").write_text("x"), None, r"notes.txt is a file among the class folders"),
    (lambda root: (root / "dog" / "readme.txt").write_text("x"), None, r"dog/readme.txt is not an image"),
])
def test_folder_samples_explain_a_bad_layout(image_folder, damage, classes, message):
    damage(image_folder)
    with pytest.raises(BadDataFolder, match=message or r"emu holds no images: the class 'emu' is empty"):
        folder_samples(image_folder, classes)


def test_folder_samples_needs_the_folder(tmp_path):
    with pytest.raises(BadDataFolder, match=r"nowhere is not a folder"):
        folder_samples(tmp_path / "nowhere")


def test_files_and_memory_give_the_same_items_through_augment_then_transform(image_folder):
    samples, classes = folder_samples(image_folder)
    files = ImageFiles(samples, classes, augment=lambda x: x * 2, transform=lambda x: x + 1)
    memory = to_memory(files, augment=files.augment, transform=files.transform)
    assert isinstance(memory, ImagesInMemory) and memory.images.dtype == torch.uint8
    for index in range(len(files)):
        (X, y), (X2, y2) = files[index], memory[index]
        assert torch.equal(X, X2) and y == y2
    X, y = files[4]
    assert y == 1 and torch.allclose(X, torch.full((3, 6, 6), 11 / 255 * 2 + 1))


def test_to_memory_needs_one_size(image_folder):
    save(image_folder / "dog" / "9.png", solid(0, 7, 7))
    samples, classes = folder_samples(image_folder)
    with pytest.raises(BadDataFolder, match=r"come in 2 sizes .* pass size="):
        to_memory(ImageFiles(samples, classes))
    assert to_memory(ImageFiles(samples, classes, size=4)).images.shape == (7, 3, 4, 4)


def test_class_examples_come_class_by_class(image_folder):
    samples, classes = folder_samples(image_folder)
    images, names = class_examples(ImageFiles(samples, classes), per_class=2)
    assert images.shape == (4, 3, 6, 6) and names == ["cat", "cat", "dog", "dog"]
    assert torch.allclose(images[2], torch.full((3, 6, 6), 10 / 255))


# ------------------------------------------------------------------------------- CIFAR-10

def write_cifar(folder, per_batch=10):
    """CIFAR-10's real files (python pickles of uint8 rows R…G…B…) holding a pattern to check.

    Image k of the whole set has red = k mod 256, green = 20 × its label, blue = 7; labels go
    round the ten classes. Returns {file name: md5}.
    """
    folder.mkdir(parents=True)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for number, name in enumerate(names):
        labels = [(number + i) % 10 for i in range(per_batch)]
        planes = [np.full((per_batch, 1024), 0, np.uint8) for _ in range(3)]
        for i, label in enumerate(labels):
            planes[0][i], planes[1][i], planes[2][i] = (number * per_batch + i) % 256, 20 * label, 7
        batch = {"batch_label": name, "labels": labels, "data": np.concatenate(planes, 1)}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": list(CIFAR10_CLASSES)}, protocol=2))
    return {path.name: hashlib.md5(path.read_bytes()).hexdigest() for path in folder.iterdir()}


@pytest.fixture
def cifar_checksums(monkeypatch):
    """Point torchvision's integrity check at the md5s of the files a test writes."""
    def use(md5):
        monkeypatch.setattr(CIFAR10, "train_list", [[f"data_batch_{i}", md5[f"data_batch_{i}"]] for i in range(1, 6)])
        monkeypatch.setattr(CIFAR10, "test_list", [["test_batch", md5["test_batch"]]])
        monkeypatch.setattr(CIFAR10, "meta", dict(CIFAR10.meta, md5=md5["batches.meta"]))
    return use


@pytest.fixture
def no_internet(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a test tried to use the network")
    monkeypatch.setattr(urllib.request, "urlopen", refuse)


def test_cifar_files_on_disk_load_with_a_seeded_stratified_split(tmp_path, cifar_checksums, no_internet):
    cifar_checksums(write_cifar(tmp_path / "cifar-10-batches-py"))
    loaders = cifar10_loaders(8, root=tmp_path, val_size=10, device="cpu")
    train, val, test = (loader.dataset for loader in loaders)
    assert [len(part) for part in (train, val, test)] == [40, 10, 10]
    assert torch.bincount(val.targets, minlength=10).tolist() == [1] * 10  # one of each class
    assert train.classes == CIFAR10_CLASSES and train.images.shape[1:] == (3, 32, 32)
    X, y = test[3]
    assert X.shape == (3, 32, 32) and y == 8  # the test batch is file 5: labels start at 5
    assert torch.allclose(X[:, 5, 5] * 255, torch.tensor([53.0, 160.0, 7.0]))  # channels in R, G, B order
    every_red = torch.cat([part.images[:, 0, 0, 0] for part in (train, val)]).sort().values
    assert every_red.tolist() == list(range(50))  # train and val split the 50 training images
    again = cifar10_loaders(8, root=tmp_path, val_size=10, device="cpu").val.dataset
    assert torch.equal(again.images, val.images)
    other = cifar10_loaders(8, root=tmp_path, val_size=10, seed=1, device="cpu").val.dataset
    assert not torch.equal(other.images, val.images)


def test_cifar_augment_is_for_training_only(tmp_path, cifar_checksums, no_internet):
    cifar_checksums(write_cifar(tmp_path / "cifar-10-batches-py"))
    loaders = cifar10_loaders(8, root=tmp_path, val_size=10, device="cpu", augment=lambda x: x * 0,
                              transform=lambda x: x + 1)
    assert (loaders.train.dataset[0][0] == 1).all()
    assert loaders.val.dataset[0][0][2, 0, 0] == pytest.approx(1 + 7 / 255)
    assert loaders.test.dataset[0][0][2, 0, 0] == pytest.approx(1 + 7 / 255)


def test_damaged_cifar_files_are_named_with_the_fix(tmp_path, cifar_checksums):
    checksums = write_cifar(tmp_path / "cifar-10-batches-py")
    cifar_checksums(checksums)
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").write_bytes(b"cut short")
    with pytest.raises(DataUnavailable, match=r"cannot be read .*Delete that folder"):
        cifar10_loaders(root=tmp_path, val_size=10, device="cpu")


def test_offline_cifar_fails_fast_naming_the_manual_route(tmp_path, monkeypatch):
    with socket.socket() as closed:  # a port nobody listens on: connection refused at once
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setattr(CIFAR10, "url", f"http://127.0.0.1:{port}/cifar-10-python.tar.gz")
    start = time.perf_counter()
    with pytest.raises(DataUnavailable) as error:
        cifar10_loaders(root=tmp_path, timeout=2.0)
    assert time.perf_counter() - start < 5
    message = str(error.value)
    assert "CIFAR-10 is not in" in message and str(tmp_path / "cifar-10-batches-py") in message
    assert f"tar -xzf cifar-10-python.tar.gz -C {tmp_path}" in message and "c58f30108f718f92721af3b95e74349a" in message
    assert "quick profile" in message and "COURSE_PROFILE" in message


@pytest.fixture
def cifar_server(tmp_path, monkeypatch, cifar_checksums):
    """An HTTP server on 127.0.0.1 serving a small cifar-10-python.tar.gz with its md5."""
    cifar_checksums(write_cifar(tmp_path / "made" / "cifar-10-batches-py"))
    served = tmp_path / "served"
    served.mkdir()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as packed:
        packed.add(tmp_path / "made" / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    (served / "cifar-10-python.tar.gz").write_bytes(buffer.getvalue())
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(CIFAR10, "url", f"http://127.0.0.1:{server.server_port}/cifar-10-python.tar.gz")
    monkeypatch.setattr(CIFAR10, "tgz_md5", hashlib.md5(buffer.getvalue()).hexdigest())
    yield tmp_path / "data"
    server.shutdown()
    server.server_close()


def test_cifar_is_downloaded_checked_and_unpacked_whole(cifar_server, monkeypatch):
    loaders = cifar10_loaders(8, root=cifar_server, val_size=10, device="cpu")
    assert [len(loader.dataset) for loader in loaders] == [40, 10, 10]
    assert sorted(p.name for p in cifar_server.iterdir()) == ["cifar-10-batches-py", "cifar-10-python.tar.gz"]
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: pytest.fail("downloaded twice"))
    again = cifar10_loaders(8, root=cifar_server, val_size=10, device="cpu")
    assert torch.equal(again.test.dataset.images, loaders.test.dataset.images)


# -------------------------------------------------------------------------------- Food-11

@pytest.fixture
def food(tmp_path):
    """A tiny Food-11 copy: real JPEGs named <class>_<index>.jpg, of two sizes and shapes."""
    root = tmp_path / "food-11"
    for folder, labels in (("training", (0, 3, 10, 3)), ("validation", (1, 2)), ("evaluation", (5,))):
        for index, label in enumerate(labels):
            save(root / folder / f"{label}_{index}.jpg", solid(20 * label, 20, 30 + 10 * index), quality=95)
    return root


def test_food11_is_listed_with_labels_from_the_names(food):
    listing = food11_samples(food)
    assert sorted(listing) == ["evaluation", "training", "validation"]
    assert sorted(label for _, label in listing["training"]) == [0, 3, 3, 10]
    assert len(FOOD11_CLASSES) == 11 and FOOD11_CLASSES[3] == "Egg"


def test_food11_loaders_resize_and_label(food):
    loaders = food11_loaders(2, size=8, root=food, device="cpu", augment=lambda x: x.flip(-1))
    assert [len(loader.dataset) for loader in loaders] == [4, 2, 1]
    X, y = next(iter(loaders.val))
    assert X.shape == (2, 3, 8, 8) and y.tolist() == [1, 2]
    assert X[1].mean().item() == pytest.approx(40 / 255, abs=0.02)  # JPEG is close, not exact
    assert loaders.train.dataset.augment is not None and loaders.val.dataset.augment is None
    assert loaders.train.dataset.classes == FOOD11_CLASSES


def test_food11_without_evaluation_has_no_test_loader(food):
    for path in (food / "evaluation").iterdir():
        path.unlink()
    (food / "evaluation").rmdir()
    loaders = food11_loaders(2, size=8, root=food, device="cpu")
    assert loaders.test is None and len(loaders.train.dataset) == 4


def _remove(folder):
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()


@pytest.mark.parametrize("damage, message", [
    (lambda root: _remove(root / "validation"),
     r"Food-11 was not found: .*food-11 has no validation/ folder \(found: evaluation/, training/\)"),
    (lambda root: (root / "training" / "IMG_2041.jpg").write_bytes(b""),
     r"training/IMG_2041.jpg: the name is not <class>_<index>.jpg"),
    (lambda root: save(root / "validation" / "11_4.jpg", solid(0)),
     r"validation/11_4.jpg: class 11 is not one of Food-11's classes 0–10"),
    (lambda root: (root / "training" / "7_9.jpg").write_bytes(b"\xff\xd8 broken"),
     r"training/7_9.jpg cannot be read as an image"),
    (lambda root: save(root / "training" / "Bread" / "0.jpg", solid(0)),
     r"training holds sub-folders \(Bread/, …\).*<class>_<index>.jpg"),
    (lambda root: [path.unlink() for path in (root / "validation").iterdir()],
     r"validation is empty"),
])
def test_a_broken_food11_copy_gets_one_clear_message(food, damage, message):
    damage(food)
    with pytest.raises(BadDataFolder, match=message) as error:
        food11_loaders(root=food, device="cpu")
    assert "data/README.md" in str(error.value)  # where to read how to fix it


def test_food11_missing_or_one_level_too_deep(tmp_path, food):
    with pytest.raises(BadDataFolder, match=r"the folder .*elsewhere does not exist.*quick profile"):
        food11_samples(tmp_path / "elsewhere")
    deeper = tmp_path / "outer"
    deeper.mkdir()
    food.rename(deeper / "food-11")
    with pytest.raises(BadDataFolder, match=r"unpacked one level too deep. Move the contents of .*outer/food-11 up"):
        food11_samples(deeper)


def test_a_food11_image_cut_short_is_named_when_read(food):
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3))
    path = save(food / "training" / "3_1.jpg", noise)
    path.write_bytes(path.read_bytes()[:1500])  # the header is whole (about 600 bytes), the picture is not
    loaders = food11_loaders(4, size=8, root=food, device="cpu")  # the quick check opens headers only
    with pytest.raises(BadDataFolder, match=r"3_1.jpg cannot be read as an image"):
        list(loaders.train)
