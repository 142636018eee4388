"""The deepfake capstone's generated mini data set: real photo crops and four kinds of fakes, in the challenge's layout.

Introduced in chapter 14 (the deepfake-detection capstone); the quick profile's stand-in for the
challenge's images (``utils.ffdi``). Nothing is downloaded: the real images are crops of the
photos that scikit-image, scikit-learn and matplotlib ship (``utils.shapes`` loads them) and of
scikit-image's LFW faces (25×25 greyscale, scaled up and used as greyscale in RGB). Every fake
starts as a crop drawn exactly like a real one and then carries one trace that real generators
leave:

- ``upsample``: made at half the size and scaled up 2× by a transposed convolution whose four
  sub-pixel phases sum slightly differently (a generator's learned kernel): the checkerboard,
  periodic with a period of 2 pixels, so its spectrum has peaks at ±N/2 (the Nyquist frequency);
- ``splice``: a face-swap-style ellipse from another crop of the same split, scaled (softer than
  its host), colour-matched and blended in with a feathered edge;
- ``resample``: scaled down and up again, then compressed as a JPEG at a low quality before the
  final save (double compression, lost detail);
- ``noise``: fine, non-periodic grain added to a crop (a stand-in for a generator we never
  trained on). **It is the held-out kind**: it appears only in the validation set, never in
  training, to show the generalisation gap (``held_out=`` names another kind, or None).

Every image, real or fake, is saved the same way (a JPEG of quality ``JPEG_QUALITY``), so the
file format tells nothing. The layout is the challenge's (``utils.ffdi`` reads it unchanged)::

    <root>/phase1/trainset/*.jpg, valset/*.jpg       names are hashes: they do not give the kind away
    <root>/phase1/trainset_label.txt, valset_label.txt   "img_name,target": 1 fake, 0 real
    <root>/phase1/trainset_kinds.txt, valset_kinds.txt   "img_name,kind,source": the answer key
    <root>/manifest.json                                  the settings (held-out kind too), counts, SHA-256

Half of each split is real and half fake, the fakes shared equally among the kinds (the training
set's among the kinds that are not held out). The split is by source photo: no photo (and no
face) gives crops to both splits (``TRAIN_PHOTOS``, ``VAL_PHOTOS``). The same settings give the same
bytes. The set is written once, atomically, with a manifest, and rebuilt when missing, incomplete
or made with other settings, by the same rules as Shapes-10 (``utils.shapes``).
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import time
import uuid
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np

from utils.data import _data_dir
from utils.ffdi import HELP, LABEL_HEADER, SPLITS
from utils.imagesets import BadDataFolder
from utils.shapes import PHOTOS, _checksum, _folder_problem, _move_into_place, _photos, _remove_abandoned

__all__ = ["FAKE_KINDS", "HELD_OUT", "KINDS", "ImageKind", "make_fakes", "read_kinds"]

VERSION = 1  # bump when the images change, so that folders written by an older version are rebuilt
#: The kinds of fake, in the order they are drawn; with ``"real"`` they are the kinds in the tables.
FAKE_KINDS = ("upsample", "splice", "resample", "noise")
KINDS = ("real", *FAKE_KINDS)
#: The kind that appears only in the validation set (by default).
HELD_OUT = "noise"
KINDS_HEADER = ("img_name", "kind", "source")
#: Which bundled photos give crops to which split (never both); the LFW faces are split by index.
PHOTO_NAMES = (*PHOTOS, "china", "flower", "grace_hopper")
VAL_PHOTOS = ("chelsea", "camera", "gravel", "coins", "flower", "retina")
TRAIN_PHOTOS = tuple(name for name in PHOTO_NAMES if name not in VAL_PHOTOS)
FACES, VAL_FACES = 100, range(70, 100)  # lfw_subset(): its first 100 images are faces
FACE_SHARE = 0.2  # the fraction of images cut from a face rather than a photo
# How strong each trace is (tuned with scripts/bench_fakes.py so that no kind is trivial):
JPEG_QUALITY = 92  # every image is saved this way
UPSAMPLE_PHASE = 0.12  # spread of the transposed convolution's kernel taps around the bilinear kernel
SPLICE_SCALE = (0.3, 0.5)  # the pasted region is drawn at this fraction of the size, then scaled up
SPLICE_FEATHER = 1.0  # the blending mask's edge softness, in pixels
RESAMPLE_SCALE = (0.55, 0.8)  # scaled down to this fraction of the side and back up
RESAMPLE_QUALITY = (35, 65)  # the first JPEG's quality
NOISE_SIGMA = (0.015, 0.03)  # the grain's standard deviation (pixel values in [0, 1])


class ImageKind(NamedTuple):
    """What one image of the mini set is: its kind ("real", "upsample", …) and the photo it was cut from."""

    kind: str
    source: str


# ----------------------------------------------------------------------------- the images

@lru_cache(maxsize=1)
def _sources() -> dict:
    """{source name: float32 [H, W, 3] image in [0, 1]}: the bundled photos and the LFW faces."""
    import skimage.data

    photos = {name: np.asarray(photo, dtype=np.float32) / 255 for name, photo in zip(PHOTO_NAMES, _photos())}
    faces = skimage.data.lfw_subset()[:FACES].astype(np.float32)
    photos.update({f"lfw{index:03d}": np.repeat(face[..., None], 3, axis=2) for index, face in enumerate(faces)})
    return photos


def _split_sources(split: str) -> tuple[list[str], list[str]]:
    """(photo names, face names) that give crops to ``split``."""
    photos = VAL_PHOTOS if split == "valset" else TRAIN_PHOTOS
    faces = [f"lfw{index:03d}" for index in range(FACES) if (index in VAL_FACES) == (split == "valset")]
    return list(photos), faces


def _resize(image: np.ndarray, size: int, box=None, resample=None) -> np.ndarray:
    """``image`` (float [H, W, 3] in [0, 1]) or its ``box`` scaled to size × size with PIL (antialiased)."""
    from PIL import Image

    pil = Image.fromarray((np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8))
    scaled = pil.resize((size, size), resample if resample is not None else Image.BILINEAR, box=box)
    return np.asarray(scaled, dtype=np.float32) / 255


def _crop(rng: np.random.Generator, split: str, size: int) -> tuple[np.ndarray, str]:
    """A random crop of a random source of ``split``, scaled to size × size: (float [size, size, 3], source)."""
    photos, faces = _split_sources(split)
    source = faces[rng.integers(len(faces))] if rng.uniform() < FACE_SHARE else photos[rng.integers(len(photos))]
    image = _sources()[source]
    height, width = image.shape[:2]
    side = rng.uniform(0.8, 1.0) * min(height, width) if source.startswith("lfw") else \
        rng.uniform(0.15, 0.5) * min(height, width)
    left, top = rng.uniform(0, width - side), rng.uniform(0, height - side)
    crop = _resize(image, size, box=(left, top, left + side, top + side))
    return (crop[:, ::-1].copy() if rng.uniform() < 0.5 else crop), source


def _upsample(rng: np.random.Generator, image: np.ndarray, split: str) -> np.ndarray:
    """Half the size, then 2× up by a transposed convolution (4×4, stride 2) whose phases sum unevenly."""
    size = image.shape[0]
    small = np.pad(_resize(image, size // 2), ((1, 1), (1, 1), (0, 0)), mode="edge")
    taps = np.array([0.25, 0.75, 0.75, 0.25])
    kernel = np.outer(taps, taps) + rng.normal(0, UPSAMPLE_PHASE, (4, 4))  # bilinear, plus a learned deviation
    side = 2 * len(small) + 2
    big = np.zeros((side, side, 3), np.float32)
    for row in range(4):  # each input pixel adds kernel × itself at (2i + row, 2j + col), as torch's conv_transpose2d
        for col in range(4):
            big[row:row + 2 * len(small):2, col:col + 2 * len(small):2] += np.float32(kernel[row, col]) * small
    return big[3:3 + size, 3:3 + size]


def _splice(rng: np.random.Generator, image: np.ndarray, split: str) -> np.ndarray:
    """An ellipse of another crop of the same split, drawn smaller and scaled up, colour-matched, blended in."""
    from scipy.ndimage import gaussian_filter

    size = image.shape[0]
    donor, _ = _crop(rng, split, max(4, round(size * rng.uniform(*SPLICE_SCALE))))
    donor = _resize(donor, size)
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    centre = size * rng.uniform(0.35, 0.65, size=2)
    radii = size * rng.uniform(0.2, 0.35, size=2)
    mask = ((((cols - centre[0]) / radii[0]) ** 2 + ((rows - centre[1]) / radii[1]) ** 2) <= 1).astype(np.float32)
    mask = gaussian_filter(mask, SPLICE_FEATHER)[..., None]
    inside = mask.sum() + 1e-6
    shift = ((image - donor) * mask).sum((0, 1)) / inside  # the host's colour inside the ellipse
    donor = donor + rng.uniform(0.4, 1.0) * shift
    return image * (1 - mask) + donor * mask


def _jpeg(image: np.ndarray, quality: int) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray((np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)).save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def _resample(rng: np.random.Generator, image: np.ndarray, split: str) -> np.ndarray:
    """Scaled down and up again, then compressed at a low JPEG quality (the final save compresses it again)."""
    from PIL import Image

    size = image.shape[0]
    small = _resize(image, max(2, round(size * rng.uniform(*RESAMPLE_SCALE))))
    again = _resize(small, size)
    compressed = Image.open(io.BytesIO(_jpeg(again, int(rng.integers(*RESAMPLE_QUALITY, endpoint=True)))))
    return np.asarray(compressed.convert("RGB"), dtype=np.float32) / 255


def _noise(rng: np.random.Generator, image: np.ndarray, split: str) -> np.ndarray:
    """Fine grain: white noise of a random strength, partly shared by the three channels."""
    sigma = rng.uniform(*NOISE_SIGMA)
    shared = rng.normal(0, sigma, image.shape[:2] + (1,))
    own = rng.normal(0, sigma / 2, image.shape)
    return image + (shared + own).astype(np.float32)


MANIPULATIONS = {"upsample": _upsample, "splice": _splice, "resample": _resample, "noise": _noise}


def _plan(split: str, count: int, held_out: str | None) -> list[str]:
    """The kind of each image of ``split``: half real, the rest shared in turn among the kinds it holds."""
    kinds = [kind for kind in FAKE_KINDS if not (split == "trainset" and kind == held_out)]
    fakes = count // 2
    return ["real"] * (count - fakes) + [kinds[index % len(kinds)] for index in range(fakes)]


def _image(seed: int, split: str, index: int, kind: str, size: int) -> tuple[bytes, str]:
    """Image ``index`` of ``split`` as JPEG bytes, and the source photo it was cut from."""
    rng = np.random.default_rng([seed, SPLITS.index(split), index])
    image, source = _crop(rng, split, size)
    if kind != "real":
        image = MANIPULATIONS[kind](rng, image, split)
    return _jpeg(image, JPEG_QUALITY), source


def _name(seed: int, split: str, index: int) -> str:
    return hashlib.sha256(f"fakes-{seed}-{split}-{index}".encode()).hexdigest()[:16] + ".jpg"


# ------------------------------------------------------------------------ the folder on disk

def _settings(size: int, counts: dict, held_out: str | None, seed: int) -> dict:
    return {"data_set": "FFDI mini (generated)", "version": VERSION, "size": size, "counts": counts,
            "held_out": held_out, "seed": seed, "kinds": list(KINDS), "strengths": _strengths()}


def _strengths() -> dict:
    """The generator's strengths, kept in the manifest: a folder made with other strengths is rebuilt."""
    return {"jpeg_quality": JPEG_QUALITY, "upsample_phase": UPSAMPLE_PHASE, "splice_scale": list(SPLICE_SCALE),
            "splice_feather": SPLICE_FEATHER, "resample_scale": list(RESAMPLE_SCALE),
            "resample_quality": list(RESAMPLE_QUALITY), "noise_sigma": list(NOISE_SIGMA), "face_share": FACE_SHARE}


def _expected_files(settings: dict) -> list[str]:
    files = [f"phase1/{split}_{table}.txt" for split in SPLITS for table in ("label", "kinds")]
    files += [f"phase1/{split}/{_name(settings['seed'], split, index)}" for split in SPLITS
              for index in range(settings["counts"][split])]
    return sorted(files)


def _files_on_disk(root: Path) -> list[str]:
    phase1 = root / "phase1"
    return sorted(path.relative_to(root).as_posix() for path in phase1.rglob("*") if path.is_file()) \
        if phase1.is_dir() else []


def _problem(root: Path, settings: dict) -> str | None:
    """Why the folder at ``root`` is not the complete set asked for; None when it is."""
    return _folder_problem(root, settings, _expected_files(settings), _files_on_disk(root))


def _write(folder: Path, settings: dict) -> None:
    """Generate every image and table into ``folder`` and, last, the manifest."""
    seed, size = settings["seed"], settings["size"]
    for split in SPLITS:
        (folder / "phase1" / split).mkdir(parents=True)
        rows = []
        for index, kind in enumerate(_plan(split, settings["counts"][split], settings["held_out"])):
            name = _name(seed, split, index)
            data, source = _image(seed, split, index, kind, size)
            (folder / "phase1" / split / name).write_bytes(data)
            rows.append((name, kind, source))
        rows.sort()  # by the hashed name: the order tells nothing about the kind
        labels = [",".join(LABEL_HEADER)] + [f"{name},{int(kind != 'real')}" for name, kind, _ in rows]
        table = [",".join(KINDS_HEADER)] + [",".join(row) for row in rows]
        (folder / "phase1" / f"{split}_label.txt").write_text("\n".join(labels) + "\n")
        (folder / "phase1" / f"{split}_kinds.txt").write_text("\n".join(table) + "\n")
    files = _expected_files(settings)
    manifest = dict(settings, files=len(files), sha256=_checksum(folder, files))
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))


def _replace(work: Path, root: Path, settings: dict) -> None:
    """Rename the finished ``work`` folder to ``root``, moving an outdated ``root`` aside first."""
    _move_into_place(work, root, lambda folder: _problem(folder, settings) is None, "mini deepfake")


def _check_arguments(size, counts: dict, held_out) -> None:
    if not (isinstance(size, int) and 16 <= size <= 256 and size % 2 == 0):
        raise ValueError(f"size={size!r}: give the side of the square images in pixels, an even number from 16 "
                         "to 256 (the upsampling fakes are made at half the size)")
    if held_out is not None and held_out not in FAKE_KINDS:
        raise ValueError(f"held_out={held_out!r}: choose one of {', '.join(map(repr, FAKE_KINDS))}, or None to "
                         "train on every kind")
    for split, count in counts.items():
        least = 4 * len(FAKE_KINDS)
        if not (isinstance(count, int) and count >= least):
            raise ValueError(f"{split[:-3]}_size={count!r}: give a whole number of images, at least {least} "
                             "(half real, the other half shared among the kinds of fake)")


def make_fakes(root=None, *, size: int = 32, train_size: int = 3000, val_size: int = 1000,
               held_out: str | None = HELD_OUT, seed: int = 0, quiet: bool = False) -> Path:
    """Generate the mini deepfake set unless a complete one with these settings is there; its root (holding phase1/).

    ``train_size`` and ``val_size`` images of size × size pixels: half real, half fake, the fakes
    shared equally among ``FAKE_KINDS``; ``held_out`` (default ``"noise"``) appears only in the
    validation set (None: in both). ``root`` defaults to
    data/fakes/<size>px-<train>-<val>-<held_out>-seed<seed> (under $COURSE_DATA when set), so that
    different settings never overwrite each other. Read it with ``utils.ffdi.ffdi_loaders(root=...)``
    and each image's kind with ``read_kinds``. Generating takes a few seconds and prints one line
    saying why (unless ``quiet``). Introduced in chapter 14.
    """
    counts = {"trainset": train_size, "valset": val_size}
    _check_arguments(size, counts, held_out)
    settings = _settings(size, counts, held_out, seed)
    if root is None:
        root = _data_dir() / "fakes" / f"{size}px-{train_size}-{val_size}-{held_out or 'none'}-seed{seed}"
    root = Path(root).expanduser()
    problem = _problem(root, settings) if root.exists() else "there is no folder yet"
    if problem is None:
        return root
    if root.exists() and (not root.is_dir() or any(entry.name not in ("phase1", "manifest.json")
                                                   for entry in root.iterdir())):
        raise FileExistsError(f"{root} holds files that are not the mini deepfake set's "
                              f"({', '.join(sorted(entry.name for entry in root.iterdir())[:3])}), so it will not be "
                              "overwritten. Pass another root, or empty that folder.")
    if not quiet:
        print(f"Mini deepfake set: generating {train_size + val_size:,} images of {size}×{size} pixels in {root} "
              f"({problem}) …", flush=True)
    started = time.perf_counter()
    root.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned(root)
    work = root.with_name(f".{root.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        _write(work, settings)
        _replace(work, root, settings)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if not quiet:
        print(f"Mini deepfake set: done in {time.perf_counter() - started:.1f} s.")
    return root


def read_kinds(root, split: str = "valset") -> dict[str, ImageKind]:
    """The answer key of the mini set's ``split``: {image name: ImageKind(kind, source)}.

    Read from <root>/phase1/<split>_kinds.txt, which ``make_fakes`` writes beside the label file;
    with it a notebook can score each kind of fake on its own (each fake kind against the real
    images). Raises ``BadDataFolder`` naming the file and line if it is missing or malformed
    (the real challenge has no such file). Introduced in chapter 14.
    """
    if split not in SPLITS:
        raise ValueError(f"split={split!r}: choose one of {', '.join(map(repr, SPLITS))}")
    path = Path(root) / "phase1" / f"{split}_kinds.txt"
    if not path.is_file():
        raise BadDataFolder(f"{path} does not exist: only the generated mini set (utils.fakes.make_fakes) has a "
                            f"table of kinds; the challenge's own images do not. {HELP}")
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines or tuple(lines[0].split(",")) != KINDS_HEADER:
        raise BadDataFolder(f"{path}, line 1: expected the header \"{','.join(KINDS_HEADER)}\". Generate the set "
                            "again (delete its folder and call make_fakes)")
    table = {}
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split(",")
        if len(fields) != 3 or fields[1] not in KINDS:
            raise BadDataFolder(f"{path}, line {number}: expected \"img_name,kind,source\" with a kind among "
                                f"{', '.join(KINDS)}, got \"{line}\". Generate the set again (delete its folder "
                                "and call make_fakes)")
        table[fields[0]] = ImageKind(fields[1], fields[2])
    return table
