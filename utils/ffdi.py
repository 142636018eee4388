"""The deepfake challenge (FFDI): its files, a Dataset that checks what it reads, and the submission file.

Introduced in chapter 14 (the deepfake-detection capstone). The challenge (the "Global Multimedia
Deepfake Detection" challenge, FFDI, on Tianchi and Kaggle) ships an image folder and a label
file per split; the course's generated mini set (``utils.fakes``) is written in the same layout,
so one reader serves both::

    <root>/phase1/trainset/*.jpg            the training images
    <root>/phase1/trainset_label.txt        "img_name,target", then one line per image: 1 fake, 0 real
    <root>/phase1/valset/*.jpg              the validation images
    <root>/phase1/valset_label.txt          the same format

A submission is a CSV file "img_name,y_pred", one line per image with the probability that it
is fake; it is scored by ROC-AUC (``utils.metrics``).

Nothing is skipped silently. A label file with a wrong header, a missing or extra column, an
unknown label, a duplicate or empty name, a blank line, or bytes that are not UTF-8 stops with
one ``BadDataFolder`` error naming the file and the line; so does an image that the label file
names but the folder lacks, or that is empty, corrupt or truncated. Windows line endings and a
UTF-8 byte-order mark (BOM), which the real files have had, are read correctly. An image in the
folder that no line names is counted in an ``ExtraImagesWarning`` (with ``strict=True``, an error).
"""
from __future__ import annotations

import math
import os
import uuid
import warnings
from pathlib import Path
from typing import Callable, Iterable, NamedTuple

import torch
from torch.utils.data import Dataset

from utils.data import Loaders, Splits, _data_dir, make_loaders
from utils.imagesets import IMAGE_SUFFIXES, BadDataFolder, read_image

__all__ = ["CLASSES", "BadSubmission", "ExtraImagesWarning", "FFDIDataset", "LabelLine", "check_submission",
           "ffdi_loaders", "ffdi_root", "read_labels", "write_submission"]

#: What the targets mean: 0 is a real image, 1 a fake.
CLASSES = ("real", "fake")
LABEL_HEADER = ("img_name", "target")
SUBMISSION_HEADER = ("img_name", "y_pred")
SPLITS = ("trainset", "valset")
HELP = 'see data/README.md, "The deepfake challenge (FFDI)".'


class BadSubmission(ValueError):
    """A submission file is not what the challenge accepts; the message names the file, the line and the fix."""


class ExtraImagesWarning(UserWarning):
    """An image folder holds files that its label file does not name (they are not used)."""


class LabelLine(NamedTuple):
    """One line of a label file: the image's name, its target (0 real, 1 fake), and the line's number."""

    name: str
    target: int
    line: int


# ---------------------------------------------------------------------------- reading CSV files

def _text(path: Path, what: str, error: type[Exception]) -> str:
    """The file as text, UTF-8 with or without a BOM, any line endings turned into "\\n"."""
    if not path.is_file():
        raise error(f"{what} {path} does not exist. Check the path; {HELP}")
    data = path.read_bytes()
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise error(f"{what} {path} is UTF-16 text (it starts with a UTF-16 byte-order mark), not "
                            f"UTF-8. Save it again as UTF-8 (Excel: \"CSV UTF-8\"; or `iconv -f UTF-16 -t UTF-8`); {HELP}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as undecodable:
        line = data[:undecodable.start].count(b"\n") + 1
        raise error(f"{what} {path}, line {line}: byte 0x{data[undecodable.start]:02x} is not UTF-8 text. The "
                            "file was saved in another encoding (such as GBK or Latin-1): save it again as UTF-8 "
                            f"(Excel: \"CSV UTF-8\"; or `iconv -f GBK -t UTF-8`); {HELP}") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _rows(path: Path, header: tuple[str, str], what: str, error: type[Exception]) -> list[tuple[int, str, str]]:
    """The data lines of a two-column CSV file with this header, names checked unique: [(line, name, value)]."""
    lines = _text(path, what, error).split("\n")
    while lines and not lines[-1].strip():  # blank lines at the end hold nothing
        lines.pop()
    wanted = ",".join(header)
    if not lines:
        raise error(f"{what} {path} is empty: expected the header \"{wanted}\" and one line per image; {HELP}")
    found = [field.strip() for field in lines[0].split(",")]
    if tuple(found) != header:
        hint = ("It looks like a data line: add the header line first" if len(found) == 2 and found[1] in ("0", "1")
                else "Check that this is the right file and that it is comma-separated")
        raise error(f"{what} {path}, line 1: expected the header \"{wanted}\", got \"{lines[0]}\". {hint}; {HELP}")
    rows, first_line = [], {}
    for number, line in enumerate(lines[1:], start=2):
        fields = [field.strip() for field in line.split(",")]
        where = f"{what} {path}, line {number}"
        if not line.strip():
            raise error(f"{where} is blank. Delete the blank line; {HELP}")
        if len(fields) != 2:
            raise error(f"{where}: expected 2 columns \"{wanted}\", got {len(fields)}: \"{line}\". Check that "
                                f"the file is comma-separated; {HELP}")
        name, value = fields
        if not name or "/" in name or "\\" in name:
            raise error(f"{where}: \"{name}\" is not an image's file name (expected a name such as "
                                f"0a1b2c.jpg, without folders). Correct the line; {HELP}")
        if name in first_line:
            raise error(f"{where}: \"{name}\" is named twice (first on line {first_line[name]}). Each image has "
                        f"exactly one line: delete one; {HELP}")
        first_line[name] = number
        rows.append((number, name, value))
    return rows


def read_labels(path) -> list[LabelLine]:
    """Read and check a label file ("img_name,target", 1 fake / 0 real): one ``LabelLine`` per image.

    Raises ``BadDataFolder`` naming the file and line for the first problem: not UTF-8, a wrong
    or missing header, a missing or extra column, a blank line, an empty name or a path, a target
    other than 0 or 1, a name given twice. A UTF-8 BOM, Windows line endings, spaces around a
    field and blank lines at the end are fine. Introduced in chapter 14.
    """
    path, what = Path(path), "FFDI label file"
    rows = _rows(path, LABEL_HEADER, what, BadDataFolder)
    if not rows:
        raise BadDataFolder(f"{what} {path} has its header but no lines: expected one line per image; {HELP}")
    for number, name, value in rows:
        if value not in ("0", "1"):
            raise BadDataFolder(f"{what} {path}, line {number}: unknown label \"{value}\" for {name}; the target "
                                f"is 1 (fake) or 0 (real). Correct the line; {HELP}")
    return [LabelLine(name, int(value), number) for number, name, value in rows]


# ------------------------------------------------------------------------------------ the Dataset

def _listing(folder: Path) -> dict[str, int]:
    """{name: size in bytes} of the visible files in ``folder`` (hidden files, such as .DS_Store, are ignored)."""
    if not folder.is_dir():
        raise BadDataFolder(f"FFDI image folder {folder} does not exist. Place the images there; {HELP}")
    with os.scandir(folder) as entries:
        return {entry.name: entry.stat().st_size for entry in entries
                if not entry.name.startswith(".") and entry.is_file()}


class FFDIDataset(Dataset):
    """One split of the challenge: the images in ``folder``, with their targets from ``label_file``.

    Items are (image float32 [3, H, W] in [0, 1], target 0 real / 1 fake), with ``augment`` then
    ``transform`` applied; without a label file (a test set) items are (image, name), for every
    image in the folder, sorted by name. ``size`` scales and centre-crops each image to size × size
    (``utils.imagesets.read_image``). The label file is checked whole (``read_labels``), and every
    image it names must be in the folder and not empty; images the label file does not name are
    counted in an ``ExtraImagesWarning``, or raise ``BadDataFolder`` with ``strict=True``.
    ``in_memory=True`` decodes every image once into one uint8 tensor (fast to batch; every image
    is checked now); otherwise an image is read on each access, and a corrupt or truncated one
    stops then, with its name and line. Introduced in chapter 14.
    """

    classes = CLASSES

    def __init__(self, folder, label_file=None, *, size: int | None = None, in_memory: bool = False,
                 augment: Callable | None = None, transform: Callable | None = None, strict: bool = False):
        self.folder, self.size = Path(folder), size
        self.label_file = Path(label_file) if label_file is not None else None
        self.augment, self.transform = augment, transform
        on_disk = _listing(self.folder)
        if self.label_file is None:
            self.names, self.lines, self.targets = sorted(on_disk), None, None
            if not self.names:
                raise BadDataFolder(f"FFDI image folder {self.folder} holds no images. Place the images there; {HELP}")
            for name in self.names:
                if Path(name).suffix.lower() not in IMAGE_SUFFIXES:
                    raise BadDataFolder(f"FFDI image folder {self.folder} holds {name}, which is not an image "
                                        f"({', '.join(IMAGE_SUFFIXES)} expected). Move it out of the folder; {HELP}")
        else:
            entries = read_labels(self.label_file)
            self._check_against(entries, on_disk, strict)
            self.names = [entry.name for entry in entries]
            self.lines = [entry.line for entry in entries]
            self.targets = torch.tensor([entry.target for entry in entries], dtype=torch.int64)
        self.images = self._decode_all() if in_memory else None

    def _check_against(self, entries: list[LabelLine], on_disk: dict[str, int], strict: bool) -> None:
        """Every named image present and not empty; the rest of the folder counted."""
        missing = [entry for entry in entries if entry.name not in on_disk]
        if missing:
            more = (" (none of the images it names is there)" if len(missing) == len(entries) > 1 else
                    f" ({len(missing):,} of the {len(entries):,} images it names are missing)" if len(missing) > 1 else "")
            raise BadDataFolder(f"FFDI label file {self.label_file}, line {missing[0].line}: the image "
                                f"{missing[0].name} is not in {self.folder}{more}. Check that the images were "
                                f"copied whole, and that the label file belongs to this folder; {HELP}")
        for entry in entries:
            if on_disk[entry.name] == 0:
                raise BadDataFolder(f"FFDI label file {self.label_file}, line {entry.line}: the image "
                                    f"{self.folder / entry.name} is empty (0 bytes): its copy was cut short. "
                                    f"Copy or unpack it again; {HELP}")
        extra = sorted(set(on_disk) - {entry.name for entry in entries})
        if extra:
            message = (f"FFDI image folder {self.folder} holds {len(extra):,} files that {self.label_file} does not "
                       f"name ({', '.join(extra[:3])}{', …' if len(extra) > 3 else ''}); they are not used. ")
            if strict:
                raise BadDataFolder(message + f"Move them out of the folder, or add their lines; {HELP}")
            warnings.warn(message + "Pass strict=True to make this an error.", ExtraImagesWarning, stacklevel=3)

    def _read(self, index: int) -> torch.Tensor:
        try:
            return read_image(self.folder / self.names[index], self.size)
        except BadDataFolder as error:
            cause = error.__context__  # PIL's own error, which read_image replaced with its message
            why = f"{type(cause).__name__}: {cause}" if cause is not None else str(error)
            where = (f"FFDI label file {self.label_file}, line {self.lines[index]}: the image" if self.label_file
                     else "FFDI image")
            raise BadDataFolder(f"{where} {self.folder / self.names[index]} cannot be read ({why}); it is corrupt or "
                                f"truncated. Copy or unpack it again; {HELP}") from None

    def _decode_all(self) -> torch.Tensor:
        images = [self._read(index) for index in range(len(self.names))]
        shapes = sorted({tuple(image.shape) for image in images})
        if len(shapes) > 1:
            raise BadDataFolder(f"the images in {self.folder} come in {len(shapes)} sizes ({', '.join(map(str, shapes[:3]))}"
                                f"{', …' if len(shapes) > 3 else ''}): pass size= to read them all at one size")
        return torch.stack(images)

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, index: int):
        pixels = self.images[index] if self.images is not None else self._read(index)
        image = pixels.float().div_(255.0)
        if self.augment is not None:
            image = self.augment(image)
        if self.transform is not None:
            image = self.transform(image)
        return image, (int(self.targets[index]) if self.targets is not None else self.names[index])


def ffdi_root(root=None) -> Path:
    """The folder that holds the challenge's ``phase1/``: ``root``, or data/ffdi (under $COURSE_DATA when set).

    Raises ``BadDataFolder`` saying where to put the images when ``phase1/`` is not there. Introduced
    in chapter 14.
    """
    root = Path(root).expanduser() if root is not None else _data_dir() / "ffdi"
    if not (root / "phase1").is_dir():
        raise BadDataFolder(f"The deepfake challenge's images were not found: {root / 'phase1'} does not exist. "
                            f"Register for the challenge, download phase 1 and place it there; {HELP} Or use the "
                            "generated mini set: the quick profile (os.environ['COURSE_PROFILE'] = 'quick' before "
                            "setup(), then restart the kernel).")
    return root


def ffdi_loaders(batch_size: int = 64, *, root=None, size: int = 64, in_memory: bool = False,
                 augment: Callable | None = None, transform: Callable | None = None, seed: int = 0, device=None,
                 strict: bool = False) -> Loaders:
    """The challenge's phase-1 train and validation sets as Loaders(train, val, test=None).

    ``root`` is the folder that holds ``phase1/`` (default data/ffdi, under $COURSE_DATA when
    set; the quick profile passes the generated set's folder, ``utils.fakes.make_fakes()``).
    Items are (float32 [3, size, size] in [0, 1], target), with ``augment`` on the training
    images only, then ``transform``. The training loader shuffles with a seeded generator. There
    is no test loader: the challenge's test images have no labels (read them with
    ``FFDIDataset(folder)``, which yields names). Introduced in chapter 14.
    """
    phase1 = ffdi_root(root) / "phase1"

    def split(name: str, augmenting: bool) -> FFDIDataset:
        return FFDIDataset(phase1 / name, phase1 / f"{name}_label.txt", size=size, in_memory=in_memory,
                           augment=augment if augmenting else None, transform=transform, strict=strict)

    train, val = split("trainset", True), split("valset", False)
    return make_loaders(Splits(train, val, val), batch_size, device=device, seed=seed)._replace(test=None)


# ----------------------------------------------------------------------------- the submission file

def write_submission(names: Iterable[str], probabilities, path) -> Path:
    """Write a submission, "img_name,y_pred" then one line per image, atomically; its path.

    ``probabilities`` (a tensor, array or list, one per name) are the probabilities that each
    image is fake, written exactly (the shortest text that reads back as the same float). The
    file is written under a temporary name and renamed into place, so an interrupted run never
    leaves half a submission. Raises ``BadSubmission`` for mismatched lengths, a repeated or
    unusable name, or a probability that is not a finite number in [0, 1]. Introduced in chapter 14.
    """
    names = list(names)
    values = torch.as_tensor(probabilities, dtype=torch.float64, device="cpu").detach().flatten().tolist()
    if len(names) != len(values):
        raise BadSubmission(f"got {len(names)} names but {len(values)} probabilities: give one probability per image, "
                            "in the order of the names")
    seen = set()
    for index, (name, value) in enumerate(zip(names, values)):
        if not isinstance(name, str) or not name.strip() or any(mark in name for mark in ",\n\r\"") or name != name.strip():
            raise BadSubmission(f"name {index} ({name!r}) cannot go into a submission: give the image's file name, "
                                "without commas, quotes, line breaks or surrounding spaces")
        if name in seen:
            raise BadSubmission(f"{name} is given twice (the second time at position {index}): a submission has one "
                                "line per image")
        if not (math.isfinite(value) and 0 <= value <= 1):
            raise BadSubmission(f"the probability for {name} (position {index}) is {value}, not a number in [0, 1]: "
                                "pass probabilities (torch.sigmoid of the logits), not logits")
        seen.add(name)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.part")
    try:
        with open(partial, "w", encoding="utf-8", newline="\n") as out:
            out.write(",".join(SUBMISSION_HEADER) + "\n")
            out.writelines(f"{name},{value!r}\n" for name, value in zip(names, values))
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def check_submission(path, expected_names: Iterable[str]) -> dict[str, float]:
    """Check a submission file against the images it must cover; {name: probability} if it is right.

    The checks, each with its own ``BadSubmission`` message naming the file and line: UTF-8
    text, the header "img_name,y_pred", two columns a line, every probability a finite number
    in [0, 1], no name twice, no name outside ``expected_names``, and every expected name
    present. Introduced in chapter 14.
    """
    path = Path(path)
    rows = _rows(path, SUBMISSION_HEADER, "submission", BadSubmission)
    expected, predictions = set(expected_names), {}
    for number, name, value in rows:
        where = f"submission {path}, line {number}"
        try:
            probability = float(value)
        except ValueError:
            raise BadSubmission(f"{where}: y_pred \"{value}\" for {name} is not a number. Write the probability that "
                                "the image is fake, such as 0.93") from None
        if not (math.isfinite(probability) and 0 <= probability <= 1):
            raise BadSubmission(f"{where}: y_pred {value} for {name} is not a probability in [0, 1]. Write "
                                "torch.sigmoid of the logits, not the logits")
        if name not in expected:
            raise BadSubmission(f"{where}: {name} is not one of the {len(expected):,} images to predict. Predict "
                                "exactly the images of the test folder")
        predictions[name] = probability
    missing = sorted(expected - set(predictions))
    if missing:
        raise BadSubmission(f"submission {path} has no line for {len(missing):,} of the {len(expected):,} images "
                            f"({', '.join(missing[:3])}{', …' if len(missing) > 3 else ''}). Predict every image of "
                            "the test folder")
    return predictions
