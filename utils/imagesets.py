"""Colour image data sets: one reader for image files, CIFAR-10 and Food-11 (the full profile).

Introduced in chapter 11 (image classification in practice), the first chapter that trains on colour
images; used by the chapters after it. Every image set here is read the same way, whether it comes from files or from memory:

- an image is read as a uint8 tensor [3, H, W], then turned into float32 in [0, 1];
- ``augment`` (training images only: flips, crops, …) and then ``transform`` (every split:
  normalisation, say) are applied to that float tensor, one image at a time;
- the loaders come from ``utils.data.make_loaders``: the training loader shuffles with its own
  seeded generator, validation and test keep their order.

``ImageFiles`` reads image files from disk (an ImageFolder layout such as the course's generated
Shapes-10, or Food-11's ``<class>_<index>.jpg``); ``ImagesInMemory`` holds a whole set as one
uint8 tensor (CIFAR-10, or any ``ImageFiles`` decoded once by ``to_memory``), which is many times
faster to batch than decoding files every epoch. A folder that is laid out wrongly, or a file
that cannot be read, stops with a ``BadDataFolder`` error naming the path and the fix: nothing
is silently skipped. (Hidden files, whose names start with ".", such as macOS's .DS_Store or
Jupyter's .ipynb_checkpoints, are the one thing ignored.)
"""
from __future__ import annotations

import os
import pickle
import re
import shutil
import tarfile
import uuid
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from utils.data import DataUnavailable, Loaders, Splits, _data_dir, _reachable, _split_off, make_loaders
from utils.download import DownloadFailed, download

__all__ = ["CIFAR10_CLASSES", "FOOD11_CLASSES", "BadDataFolder", "ImageFiles", "ImagesInMemory",
           "cifar10_loaders", "class_examples", "folder_samples", "food11_loaders", "food11_samples",
           "read_image", "to_memory"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
QUICK_PROFILE = ("Or use the offline data: switch to the quick profile (os.environ['COURSE_PROFILE'] = "
                 "'quick' before setup(), then restart the kernel), which trains on the generated Shapes-10 "
                 "images.")


class BadDataFolder(DataUnavailable):
    """A data folder is laid out wrongly or holds a file that cannot be read; the message names it."""


# ------------------------------------------------------------------------- reading images

def read_image(path, size: int | None = None) -> torch.Tensor:
    """One image file as a uint8 tensor [3, H, W] (RGB), or [3, size, size] when ``size`` is given.

    With ``size``, the image is scaled so that its shorter side is ``size`` and its centre is cut
    out (a JPEG is decoded at a reduced scale first, which is much faster). A file that cannot be
    read raises ``BadDataFolder`` with its path. Introduced in chapter 11.
    """
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as image:
            if size is not None:
                image.draft("RGB", (size, size))
            image = image.convert("RGB")
            if size is not None and image.size != (size, size):
                image = ImageOps.fit(image, (size, size), Image.BILINEAR)
            pixels = np.asarray(image)
    except (OSError, ValueError, SyntaxError) as error:  # PIL's errors for unknown, cut or broken files
        raise BadDataFolder(f"{path} cannot be read as an image ({type(error).__name__}: {error}). "
                            "Replace it with a good copy of the file, or delete it.") from None
    return torch.from_numpy(pixels.copy()).permute(2, 0, 1)


class _Images(Dataset):
    """What both datasets share: labels, class names, and the float → augment → transform steps."""

    def __init__(self, labels: torch.Tensor, classes: Sequence[str], augment: Callable | None,
                 transform: Callable | None):
        self.targets = labels
        self.classes = tuple(classes)
        self.augment = augment
        self.transform = transform

    def __len__(self) -> int:
        return len(self.targets)

    def _finish(self, pixels: torch.Tensor, index: int):
        image = pixels.float().div_(255.0)
        if self.augment is not None:
            image = self.augment(image)
        if self.transform is not None:
            image = self.transform(image)
        return image, int(self.targets[index])


class ImageFiles(_Images):
    """Images read from files on every access: ``samples`` is a list of (path, label).

    Items are (image float32 [3, H, W] in [0, 1], label), with ``augment`` then ``transform``
    applied; ``size`` scales and centre-crops every image to size × size (see ``read_image``).
    ``classes`` names the labels, as torchvision's ImageFolder does. Introduced in chapter 11.
    """

    def __init__(self, samples: Sequence[tuple[Path, int]], classes: Sequence[str], *,
                 size: int | None = None, augment: Callable | None = None, transform: Callable | None = None):
        super().__init__(torch.tensor([label for _, label in samples], dtype=torch.int64), classes,
                         augment, transform)
        self.paths = [Path(path) for path, _ in samples]
        self.size = size

    def __getitem__(self, index: int):
        return self._finish(read_image(self.paths[index], self.size), index)


class ImagesInMemory(_Images):
    """A whole image set held as one uint8 tensor [N, 3, H, W] with int64 labels [N].

    Items are exactly those of ``ImageFiles``: (float32 image in [0, 1], label), with ``augment``
    then ``transform`` applied. Introduced in chapter 11.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, classes: Sequence[str], *,
                 augment: Callable | None = None, transform: Callable | None = None):
        if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3 or len(images) != len(labels):
            raise ValueError(f"expected uint8 images [N, 3, H, W] and N labels; got {images.dtype} "
                             f"{tuple(images.shape)} and {len(labels)} labels")
        super().__init__(labels.long(), classes, augment, transform)
        self.images = images

    def __getitem__(self, index: int):
        return self._finish(self.images[index], index)


def to_memory(files: ImageFiles, *, augment: Callable | None = None,
              transform: Callable | None = None) -> ImagesInMemory:
    """Decode every file of ``files`` once into an ``ImagesInMemory`` (all images must be one size).

    Introduced in chapter 11.
    """
    if not len(files):
        raise ValueError("no images to load: the ImageFiles data set is empty")
    images = [read_image(path, files.size) for path in files.paths]
    shapes = {tuple(image.shape) for image in images}
    if len(shapes) > 1:
        raise BadDataFolder(f"the images in {files.paths[0].parent.parent} come in {len(shapes)} sizes "
                            f"({', '.join(map(str, sorted(shapes)[:3]))}, …): pass size= to read them all "
                            "at one size")
    return ImagesInMemory(torch.stack(images), files.targets, files.classes, augment=augment,
                          transform=transform)


def _visible(folder: Path) -> list[Path]:
    return sorted(entry for entry in folder.iterdir() if not entry.name.startswith("."))


def folder_samples(folder, classes: Sequence[str] | None = None) -> tuple[list[tuple[Path, int]], tuple[str, ...]]:
    """List an ImageFolder layout, ``folder/<class>/<image>``: (samples, class names).

    Class folders are sorted by name and numbered from 0, as torchvision's ImageFolder does;
    with ``classes`` given, the folders must be exactly those, and are numbered in that order.
    Raises ``BadDataFolder`` for a missing folder, a missing, unknown or empty class folder, or a
    file that is not a .png or .jpg image. Introduced in chapter 11.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise BadDataFolder(f"{folder} is not a folder: expected one sub-folder of images per class.")
    entries = _visible(folder)
    found = [entry.name for entry in entries if entry.is_dir()]
    stray = [entry for entry in entries if not entry.is_dir()]
    if stray:
        raise BadDataFolder(f"{stray[0]} is a file among the class folders of {folder}: every image "
                            "belongs in the sub-folder of its class. Move or delete it.")
    names = tuple(classes) if classes is not None else tuple(found)
    missing, unknown = sorted(set(names) - set(found)), sorted(set(found) - set(names))
    if missing or unknown or not names:
        raise BadDataFolder(f"{folder}: expected class folders {', '.join(names) or '(at least one)'}; "
                            + (f"missing: {', '.join(missing)}. " if missing else "")
                            + (f"not a class: {', '.join(unknown)}. " if unknown else "")
                            + "Check that the data set was copied whole.")
    samples = []
    for label, name in enumerate(names):
        files = _visible(folder / name)
        if not files:
            raise BadDataFolder(f"{folder / name} holds no images: the class {name!r} is empty. "
                                "Check that the data set was copied whole.")
        for path in files:
            if path.suffix.lower() not in IMAGE_SUFFIXES or not path.is_file():
                raise BadDataFolder(f"{path} is not an image ({', '.join(IMAGE_SUFFIXES)} expected). "
                                    "Move it out of the data folder.")
            samples.append((path, label))
    return samples, names


def class_examples(dataset, per_class: int = 4) -> tuple[torch.Tensor, list[str]]:
    """The first ``per_class`` images of each class, for a gallery: (images, class names).

    Images come class by class, as the dataset gives them (after its transforms), ready for
    ``utils.plots.show_images(images, names, ...)``. Introduced in chapter 11.
    """
    images, names = [], []
    for label, name in enumerate(dataset.classes):
        indices = (torch.as_tensor(dataset.targets) == label).nonzero().flatten()[:per_class].tolist()
        images += [dataset[index][0] for index in indices]
        names += [name] * len(indices)
    return torch.stack(images), names


# ------------------------------------------------------------------------------- CIFAR-10

#: CIFAR-10's ten classes, in label order.
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def _cifar_manual(cls, root: Path) -> str:
    return (f"To get CIFAR-10: connect to the internet and run this cell again (163 MB go to {root}); or "
            f"download {cls.filename} from {cls.url} (MD5 {cls.tgz_md5}) and unpack it with "
            f"`tar -xzf {cls.filename} -C {root}`, so that {root / cls.base_folder / 'data_batch_1'} exists "
            f"(data/README.md, \"Placing data by hand\"). " + QUICK_PROFILE)


def _fetch_cifar(cls, root: Path, timeout: float) -> None:
    """Download CIFAR-10's archive (checksum, resume) and unpack it atomically into ``root``."""
    why = _reachable(cls.url, timeout)
    if why is not None:
        raise DataUnavailable(f"CIFAR-10 is not in {root / cls.base_folder} and could not be downloaded "
                              f"({cls.url}: {why}).\n" + _cifar_manual(cls, root))
    try:
        archive = download(cls.url, root / cls.filename, checksum=f"md5:{cls.tgz_md5}",
                           manual=_cifar_manual(cls, root), timeout=timeout)
    except DownloadFailed as error:
        raise DataUnavailable(f"CIFAR-10: {error}") from None
    unpacking = root / f".{cls.base_folder}.unpacking-{uuid.uuid4().hex[:8]}"
    try:
        with tarfile.open(archive, "r:gz") as packed:
            packed.extractall(unpacking, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
        target = root / cls.base_folder
        if target.exists():  # a damaged copy: the archive's checksum matched, so replace it
            shutil.rmtree(target)
        os.replace(unpacking / cls.base_folder, target)
    finally:
        shutil.rmtree(unpacking, ignore_errors=True)


def _cifar_tensors(root, timeout: float):
    """(train_X, train_y, test_X, test_y): uint8 images [N, 3, 32, 32] and int64 labels."""
    from torchvision.datasets import CIFAR10

    root = Path(root) if root is not None else _data_dir()
    folder = root / CIFAR10.base_folder
    if not all((folder / name).exists() for name, _ in CIFAR10.train_list + CIFAR10.test_list):
        _fetch_cifar(CIFAR10, root, timeout)
    try:
        train, test = CIFAR10(str(root), train=True), CIFAR10(str(root), train=False)
    except (RuntimeError, OSError, pickle.UnpicklingError, KeyError, ValueError) as error:
        raise DataUnavailable(f"CIFAR-10's files in {folder} cannot be read ({type(error).__name__}: {error}). "
                              "Delete that folder and run again to download and unpack them afresh.") from None

    def as_tensors(part):
        return (torch.from_numpy(part.data).permute(0, 3, 1, 2).contiguous(),
                torch.tensor(part.targets, dtype=torch.int64))

    return (*as_tensors(train), *as_tensors(test))


def cifar10_loaders(batch_size: int = 128, *, augment: Callable | None = None, transform: Callable | None = None,
                    seed: int = 0, device=None, root=None, val_size: int = 5_000,
                    timeout: float = 10.0) -> Loaders:
    """CIFAR-10 (60 000 32×32 colour photos, 10 classes) as Loaders(train, val, test): the full profile.

    Downloaded into ``root`` (default: $COURSE_DATA, else the course's data/ folder) on first
    use, through the course's downloader (MD5 checked, resumable), and read with torchvision.
    The 50 000 training images are split, stratified and seeded, into train and ``val_size``
    validation images; the official 10 000 test images are the test set. The images stay in
    memory as uint8 (150 MB); items are float32 [3, 32, 32] in [0, 1], with ``augment`` on the
    training images only, then ``transform``. Offline, raises ``DataUnavailable`` within about
    ``timeout`` seconds, naming the manual route. Introduced in chapter 11.
    """
    train_X, train_y, test_X, test_y = _cifar_tensors(root, timeout)
    train_part, val_part = (i.sort().values for i in _split_off(torch.arange(len(train_y)), train_y,
                                                                val_size, seed))
    splits = Splits(
        ImagesInMemory(train_X[train_part], train_y[train_part], CIFAR10_CLASSES, augment=augment, transform=transform),
        ImagesInMemory(train_X[val_part], train_y[val_part], CIFAR10_CLASSES, transform=transform),
        ImagesInMemory(test_X, test_y, CIFAR10_CLASSES, transform=transform))
    return make_loaders(splits, batch_size, device=device, seed=seed)


# -------------------------------------------------------------------------------- Food-11

#: Food-11's eleven classes; an image named ``3_120.jpg`` is of class 3, "Egg".
FOOD11_CLASSES = ("Bread", "Dairy product", "Dessert", "Egg", "Fried food", "Meat", "Noodles/Pasta",
                  "Rice", "Seafood", "Soup", "Vegetable/Fruit")
FOOD11_FOLDERS = {"training": True, "validation": True, "evaluation": False}  # folder: required?
FOOD11_NAME = re.compile(r"(\d+)_(\d+)\.jpe?g", re.IGNORECASE)
FOOD11_HELP = 'See data/README.md, "Placing data by hand", for where to get Food-11 and how to unpack it.'


def _food11_root_problem(root: Path) -> str | None:
    """Why ``root`` is not a Food-11 folder (a missing folder, one level too deep), or None."""
    if not root.is_dir():
        return f"the folder {root} does not exist."
    missing = [name for name, required in FOOD11_FOLDERS.items() if required and not (root / name).is_dir()]
    if not missing:
        return None
    nested = [entry for entry in _visible(root) if (entry / "training").is_dir()]
    if nested:
        return (f"{root} holds {nested[0].name}/training/ instead of training/: the archive was unpacked one "
                f"level too deep. Move the contents of {nested[0]} up into {root}.")
    found = ", ".join(entry.name + ("/" if entry.is_dir() else "") for entry in _visible(root)[:5]) or "nothing"
    return f"{root} has no {' or '.join(f'{name}/' for name in missing)} folder (found: {found})."


def _food11_files(folder: Path) -> list[tuple[Path, int]]:
    """Check one Food-11 folder's file names and labels: [(path, label)]."""
    entries = _visible(folder)
    subfolders = [entry for entry in entries if entry.is_dir()]
    if subfolders:
        raise BadDataFolder(f"Food-11 folder {folder} holds sub-folders ({subfolders[0].name}/, …), but the "
                            "course reads Food-11's original layout: the images directly in it, named "
                            "<class>_<index>.jpg. " + FOOD11_HELP)
    if not entries:
        raise BadDataFolder(f"Food-11 folder {folder} is empty: expected images named <class>_<index>.jpg. "
                            + FOOD11_HELP)
    samples = []
    for path in entries:
        match = FOOD11_NAME.fullmatch(path.name)
        if match is None:
            raise BadDataFolder(f"Food-11 file {path}: the name is not <class>_<index>.jpg (such as 3_120.jpg), "
                                "so its class is unknown. Rename it, or move it out of the data folder. " + FOOD11_HELP)
        label = int(match.group(1))
        if label >= len(FOOD11_CLASSES):
            raise BadDataFolder(f"Food-11 file {path}: class {label} is not one of Food-11's classes "
                                f"0–{len(FOOD11_CLASSES) - 1}. Is this file from another data set? " + FOOD11_HELP)
        samples.append((path, label))
    return samples


def _check_readable(samples: list[tuple[Path, int]]) -> None:
    """Open every image's header (fast: no decoding), so a broken file is named before training."""
    from PIL import Image

    for path, _ in samples:
        try:
            with Image.open(path) as image:
                image.size  # noqa: B018 - reading the header is the check
        except (OSError, ValueError, SyntaxError) as error:
            raise BadDataFolder(f"Food-11 file {path} cannot be read as an image ({type(error).__name__}: "
                                f"{error}). Replace it with a good copy (unpack Food-11 again), or delete it. "
                                + FOOD11_HELP) from None


def food11_samples(root=None) -> dict[str, list[tuple[Path, int]]]:
    """Check a hand-placed Food-11 folder and list it: {"training": [(path, label)], ...}.

    ``root`` defaults to data/food-11 (under $COURSE_DATA when set). training/ and validation/
    are required, evaluation/ is optional (absent from some copies). Raises ``BadDataFolder``
    with one clear message for the first problem found: a missing folder, a wrong file name,
    an unknown class, or an image that cannot be opened (each named by its path). Introduced in
    chapter 11 (image classification in practice).
    """
    root = Path(root) if root is not None else _data_dir() / "food-11"
    problem = _food11_root_problem(root)
    if problem is not None:
        raise BadDataFolder(f"Food-11 was not found: {problem} {FOOD11_HELP} " + QUICK_PROFILE)
    listing = {name: _food11_files(root / name) for name in FOOD11_FOLDERS if (root / name).is_dir()}
    for samples in listing.values():
        _check_readable(samples)
    return listing


def food11_loaders(batch_size: int = 64, *, size: int = 128, augment: Callable | None = None,
                   transform: Callable | None = None, seed: int = 0, device=None, root=None) -> Loaders:
    """Food-11 as Loaders(train, val, test), read from files: the full profile's food photos.

    training/ is the training set and validation/ the validation set; evaluation/ is the test
    set, and ``test`` is None when that folder is absent. Every image is scaled and centre-cropped
    to ``size`` × ``size``; items are float32 [3, size, size] in [0, 1], with ``augment`` on the
    training images only, then ``transform``. The folder is checked first (``food11_samples``).
    Introduced in chapter 11.
    """
    listing = food11_samples(root)

    def part(name: str, augmenting: bool = False):
        return ImageFiles(listing[name], FOOD11_CLASSES, size=size, augment=augment if augmenting else None,
                          transform=transform) if name in listing else None

    train, val, test = part("training", augmenting=True), part("validation"), part("evaluation")
    loaders = make_loaders(Splits(train, val, test if test is not None else val), batch_size, device=device,
                           seed=seed)
    return loaders if test is not None else loaders._replace(test=None)
