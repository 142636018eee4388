"""Data sets and loaders: the offline digits, and Fashion-MNIST / MNIST in the full profile.

Introduced in chapter 05 (the training loop), which builds a Dataset and a DataLoader by hand
first. Every loader here follows the same rules:

- a fixed, seeded, stratified split into train / validation / test, identical on every run;
- the training loader shuffles with its own seeded ``torch.Generator`` (``fit(resume=True)``
  saves and restores its state), validation and test loaders keep their order;
- ``num_workers=0`` for in-memory tensors and on the CPU, where worker processes only cost
  start-up time; ``pin_memory`` only when the batches go to a CUDA GPU.

The quick profile uses scikit-learn's handwritten digits, which ship with the package. The full
profile downloads Fashion-MNIST or MNIST into ``data/`` (``utils.download``: checksum, resume,
atomic rename) and reads them with torchvision; without internet that fails within seconds with a ``DataUnavailable`` error that says what to do, instead of hanging.
"""
from __future__ import annotations

import gzip
import os
import shutil
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Subset, TensorDataset

from utils.cpus import usable_cores
from utils.download import DownloadFailed, download
from utils.env import choose_device

__all__ = ["FASHION_CLASSES", "DataUnavailable", "Loaders", "Splits", "digits_loaders",
           "digits_splits", "fashion_mnist_loaders", "make_loaders", "mnist_loaders", "standardize"]


def _data_dir() -> Path:
    """Where downloads land: $COURSE_DATA, else the course's data/ folder (git-ignored), else ./data."""
    if os.environ.get("COURSE_DATA"):
        return Path(os.environ["COURSE_DATA"]).expanduser()
    in_repo = Path(__file__).resolve().parents[1] / "data"
    return in_repo if in_repo.is_dir() else Path.cwd() / "data"


#: Fashion-MNIST's ten classes, in label order.
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


class DataUnavailable(RuntimeError):
    """A data set is neither on disk nor downloadable; the message says how to get it."""


class Splits(NamedTuple):
    """Three ``TensorDataset`` s of (X, y): train, validation and test."""

    train: Dataset
    val: Dataset
    test: Dataset


class Loaders(NamedTuple):
    """Three DataLoaders: train (shuffled, seeded), val and test (in order)."""

    train: DataLoader
    val: DataLoader
    test: DataLoader


def _split_off(indices: torch.Tensor, labels: torch.Tensor, size: int, seed: int):
    """Split ``indices`` into (rest, part) with ``size`` in part, every class in proportion.

    Both come in scikit-learn's shuffled order, so a second split of ``rest`` is the same as
    one written with ``train_test_split`` by hand (chapter 05 does); callers sort at the end.
    """
    from sklearn.model_selection import train_test_split

    rest, part = train_test_split(indices.numpy(), test_size=size, stratify=labels[indices].numpy(),
                                  random_state=seed)
    return torch.from_numpy(rest), torch.from_numpy(part)


def digits_splits(seed: int = 0, *, image: bool = False) -> Splits:
    """scikit-learn's 1797 handwritten 8×8 digits, split 1077/360/360 (60/20/20 %), stratified.

    X is float32 in [0, 1] (the raw 0–16 ink levels divided by 16), shape [N, 64], or
    [N, 1, 8, 8] with ``image=True``; y is int64 in 0..9. The same seed gives the same split.
    Introduced in chapter 05.
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    X = torch.tensor(digits.data, dtype=torch.float32) / 16.0
    if image:
        X = X.reshape(-1, 1, 8, 8)
    y = torch.tensor(digits.target, dtype=torch.int64)
    rest, test = _split_off(torch.arange(len(y)), y, 360, seed)
    train, val = _split_off(rest, y, 360, seed)
    return Splits(*(TensorDataset(X[i.sort().values], y[i.sort().values]) for i in (train, val, test)))


def _in_memory(dataset) -> bool:
    while isinstance(dataset, Subset):
        dataset = dataset.dataset
    return isinstance(dataset, TensorDataset)


def make_loaders(splits: Splits, batch_size: int = 64, *, device=None, seed: int = 0) -> Loaders:
    """DataLoaders for a ``Splits``: train shuffled by a seeded generator, val and test in order.

    Worker processes only for data read from disk on a CUDA machine (up to 4); tensors in
    memory are batched in the main process, where workers would only add start-up time.
    ``pin_memory`` (page-locked memory, for faster copies) only when ``device`` is CUDA.
    Each loader has its own generator, so evaluating never shifts the training randomness.
    Introduced in chapter 05.
    """
    device = torch.device(device) if device is not None else choose_device()
    cuda = device.type == "cuda"

    def loader(dataset, shuffle: bool, offset: int) -> DataLoader:
        workers = 0 if (not cuda or _in_memory(dataset)) else min(4, max(1, usable_cores() - 1))
        return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle,
                          generator=torch.Generator().manual_seed(seed + offset),
                          num_workers=workers, pin_memory=cuda, persistent_workers=workers > 0)

    return Loaders(loader(splits.train, True, 0), loader(splits.val, False, 1),
                   loader(splits.test, False, 2))


def digits_loaders(batch_size: int = 64, *, image: bool = False, seed: int = 0, device=None) -> Loaders:
    """``make_loaders(digits_splits(seed, image=image), batch_size, ...)``: the quick profile's data.

    Introduced in chapter 05.
    """
    return make_loaders(digits_splits(seed, image=image), batch_size, device=device, seed=seed)


def standardize(train_X: torch.Tensor, *others: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Standardise every feature with the TRAINING set's mean and standard deviation.

    Returns ``(train_X, *others)`` transformed. Statistics come from ``train_X`` only: the
    validation and test sets must not leak into the model. A feature that is constant in the
    training set (digits have blank corner pixels) is only centred, not divided by zero. The
    standard deviation is PyTorch's default, with n − 1 in the denominator.
    Introduced in chapter 07 (normalisation), which builds it in the open first.
    """
    mean = train_X.mean(dim=0)
    std = train_X.std(dim=0)
    std = torch.where(std > 0, std, torch.ones_like(std))
    return tuple((X - mean) / std for X in (train_X, *others))


# --------------------------------------------------------------------------- full profile

def _reachable(url: str, timeout: float) -> str | None:
    """None if ``url`` answers within ``timeout`` seconds, else why not.

    Runs in a daemon thread with a hard deadline: a socket timeout does not bound a DNS
    lookup, which can stall for a minute on a machine with no network.
    """
    outcome: list[str | None] = ["no answer within {:g} s".format(timeout)]

    def probe():
        try:
            request = urllib.request.Request(url, method="HEAD", headers={"User-Agent": "Mozilla/5.0"})
            with urllib.request.urlopen(request, timeout=timeout):
                outcome[0] = None
        except urllib.error.HTTPError:  # the server answered: the network works, the download says more
            outcome[0] = None
        except Exception as error:  # URLError, timeouts, refused connections
            outcome[0] = f"{type(error).__name__}: {getattr(error, 'reason', error)}"

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout + 1.0)
    return outcome[0]


def _how_to_get(name: str, cls, root: Path) -> str:
    raw = root / cls.__name__ / "raw"
    files = ", ".join(f for f, _ in cls.resources)
    return (f"To get {name}: connect to the internet and run this cell again (about 30 MB go to {root}); "
            f"or download {files} from {cls.mirrors[0]} and put them in {raw}. "
            f"Or use the offline data: switch to the quick profile (os.environ['COURSE_PROFILE'] = 'quick' "
            f"before setup(), then restart the kernel), which trains on scikit-learn's digits.")


def _unavailable(name: str, cls, root: Path, reason: str) -> DataUnavailable:
    raw = root / cls.__name__ / "raw"
    return DataUnavailable(f"{name} is not in {raw} and could not be downloaded ({reason}).\n"
                           + _how_to_get(name, cls, root))


def _fetch(cls, name: str, root: Path, timeout: float) -> None:
    """Download and unpack the four files of an MNIST-like set, failing fast when offline.

    A quick probe of the mirrors comes first, so an offline machine gets its answer within
    ``timeout`` seconds instead of after the downloader's retries; then ``utils.download``
    fetches each archive (checksum, resume, atomic rename) and it is unpacked atomically too.
    """
    reasons = []
    for mirror in cls.mirrors:
        why = _reachable(mirror + cls.resources[0][0], timeout)
        if why is None:
            break
        reasons.append(f"{mirror}: {why}")
    else:
        raise _unavailable(name, cls, root, "; ".join(reasons))
    raw = root / cls.__name__ / "raw"
    for filename, md5 in cls.resources:
        unpacked = raw / filename.removesuffix(".gz")
        if unpacked.exists():
            continue
        try:
            archive = download(mirror + filename, raw / filename, checksum=f"md5:{md5}",
                               manual=_how_to_get(name, cls, root), timeout=timeout)
        except DownloadFailed as error:
            raise DataUnavailable(f"{name}: {error}") from None
        partial = unpacked.with_name(unpacked.name + ".part")
        with gzip.open(archive, "rb") as packed, open(partial, "wb") as out:
            shutil.copyfileobj(packed, out)
        os.replace(partial, unpacked)


def _torchvision_tensors(cls, name: str, root, timeout: float):
    """(train_X, train_y, test_X, test_y) as uint8 image and int64 label tensors."""
    root = Path(root) if root is not None else _data_dir()
    raw = root / cls.__name__ / "raw"
    if not all((raw / filename.removesuffix(".gz")).exists() for filename, _ in cls.resources):
        _fetch(cls, name, root, timeout)
    try:
        train, test = cls(str(root), train=True), cls(str(root), train=False)
    except Exception as error:  # torchvision asserts on a damaged header
        raise DataUnavailable(f"{name}'s files in {raw} cannot be read ({type(error).__name__}: "
                              f"{error}). Delete that folder and run again to download them afresh."
                              ) from None
    return train.data, train.targets.long(), test.data, test.targets.long()


def _mnist_like(cls, name, batch_size, image, seed, device, root, val_size, timeout, pad_to_32=False) -> Loaders:
    train_X, train_y, test_X, test_y = _torchvision_tensors(cls, name, root, timeout)
    shape = (-1, 1, 28, 28) if image or pad_to_32 else (-1, 28 * 28)
    train_X = train_X.reshape(shape).float() / 255.0
    test_X = test_X.reshape(shape).float() / 255.0
    if pad_to_32:  # a 2-pixel blank border all round, as LeNet-5's 32×32 input had
        train_X, test_X = (torch.nn.functional.pad(X, (2, 2, 2, 2)) for X in (train_X, test_X))
    train_part, val_part = (i.sort().values for i in _split_off(torch.arange(len(train_y)), train_y,
                                                                val_size, seed))
    splits = Splits(TensorDataset(train_X[train_part], train_y[train_part]),
                    TensorDataset(train_X[val_part], train_y[val_part]),
                    TensorDataset(test_X, test_y))
    return make_loaders(splits, batch_size, device=device, seed=seed)


def fashion_mnist_loaders(batch_size: int = 128, *, image: bool = False, seed: int = 0, device=None,
                          root=None, val_size: int = 10_000, timeout: float = 10.0) -> Loaders:
    """Fashion-MNIST (70 000 28×28 clothing images, 10 classes): the full profile's data.

    Downloaded into ``root`` (default: $COURSE_DATA, else the course's data/ folder) on first
    use. The 60 000 training images are split, stratified and seeded, into train and
    ``val_size`` validation images; the official 10 000 test images are the test set. X is
    float32 in [0, 1], shape [N, 784] or [N, 1, 28, 28] with ``image=True``; the whole set is
    held as tensors in memory (about 220 MB), which batches faster than decoding one image at a
    time. Offline, raises ``DataUnavailable`` within about ``timeout`` seconds. Introduced in
    chapter 05.
    """
    from torchvision.datasets import FashionMNIST

    return _mnist_like(FashionMNIST, "Fashion-MNIST", batch_size, image, seed, device, root,
                       val_size, timeout)


def mnist_loaders(batch_size: int = 128, *, image: bool = False, pad_to_32: bool = False, seed: int = 0,
                  device=None, root=None, val_size: int = 10_000, timeout: float = 10.0) -> Loaders:
    """MNIST handwritten digits (70 000 28×28 images), exactly as ``fashion_mnist_loaders``.

    ``pad_to_32=True`` gives [N, 1, 32, 32] images, the 28×28 digit in a blank 2-pixel border:
    the input LeNet-5 was built for. Introduced in chapter 09.
    """
    from torchvision.datasets import MNIST

    return _mnist_like(MNIST, "MNIST", batch_size, image, seed, device, root, val_size, timeout, pad_to_32)
