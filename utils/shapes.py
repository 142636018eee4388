"""Shapes-10: the course's offline colour image set, generated from a seed and kept on disk.

Introduced in chapter 11 (image classification in practice); the quick profile's colour images from
then on. Its labels follow ``SHAPES_CLASSES`` (circle = 0, square = 1, …), not the alphabetical order
that torchvision's ImageFolder would give the same folders: read it with ``shapes_loaders``.
Ten classes of shapes (circle, square, triangle, …), each drawn at a random position, scale,
stretch, rotation and colour (always brighter or darker than what lies under it), shaded, on a
softened background cut from the photos that scikit-image, scikit-learn and matplotlib ship,
with small distractors (dots and strokes) and pixel noise.
Nothing is downloaded, and the same seed gives the same images.

The set is written once, in ImageFolder layout (``root/train/<class>/0000.png``, ``val/``,
``test/``), and reused. It is written into a hidden sibling folder and renamed into place
only when complete, together with ``manifest.json`` (settings, counts, a SHA-256 of every
file), so a run killed midway never leaves a folder that looks finished; a folder whose
manifest does not match the settings asked for, or whose files do not match the manifest,
is generated again. The loaders read it with the course's image reader (``utils.imagesets``),
the same code that reads Food-11.
"""
from __future__ import annotations

import colorsys
import hashlib
import json
import math
import os
import shutil
import time
import uuid
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np

from utils.data import Loaders, Splits, _data_dir, make_loaders
from utils.imagesets import ImageFiles, folder_samples, to_memory

__all__ = ["NOVEL_CLASSES", "SHAPES_CLASSES", "make_shapes", "render_shapes", "shapes_loaders"]

#: The ten classes, in label order.
SHAPES_CLASSES = ("circle", "square", "triangle", "star", "cross", "ring", "crescent", "heart", "arrow",
                  "hourglass")
#: Ten more classes that Shapes-10 never shows, drawn the same way: chapter 13's related target task.
NOVEL_CLASSES = ("pentagon", "hexagon", "diamond", "semicircle", "ellipse", "trapezoid", "corner", "tee",
                 "frame", "sparkle")
#: The class lists ``render_shapes(classes=...)`` draws from.
CLASS_SETS = {"shapes10": SHAPES_CLASSES, "novel": NOVEL_CLASSES}
VERSION = 1  # bump when the images change, so that folders written by an older version are rebuilt
SPLITS = ("train", "val", "test")
SUPERSAMPLE = 4  # shapes are drawn 4× larger and averaged down: smooth, anti-aliased edges
# How hard the images are (tuned so that a plain CNN over-fits, and a ResNet and augmentation help):
RADIUS = (0.24, 0.42)  # the shape's radius, as a fraction of the image's side
BACKGROUND_CONTRAST = (0.3, 0.8)  # the photo patch's contrast is scaled by a factor in this range
SHAPE_CONTRAST = 0.25  # the least difference in brightness between the shape and the background under it
DISTRACTORS = 3  # at most this many dots and strokes
NOISE = 0.02  # the standard deviation of the pixel noise


def _regular(corners: int, inner: float | None = None) -> np.ndarray:
    """A regular polygon (a star with ``inner``) of radius 1, pointing up."""
    angles = np.pi / 2 + 2 * np.pi * np.arange(corners) / corners
    points = np.stack([np.cos(angles), -np.sin(angles)], 1)
    if inner is None:
        return points
    between = angles + np.pi / corners
    valleys = inner * np.stack([np.cos(between), -np.sin(between)], 1)
    return np.stack([points, valleys], 1).reshape(-1, 2)


def _disk(x: float, y: float, radius: float) -> np.ndarray:
    angles = np.linspace(0, 2 * np.pi, 48, endpoint=False)
    return np.stack([x + radius * np.cos(angles), y + radius * np.sin(angles)], 1)


def _heart() -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, 48, endpoint=False)
    x = 16 * np.sin(t) ** 3
    y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
    return np.stack([x, y + 2.4], 1) / 16


#: Each shape as polygons in a unit square around its centre, drawn in order: (points, ink or hole).
OUTLINES = {
    "circle": [(_disk(0, 0, 0.9), True)],
    "square": [(np.array([(-0.78, -0.78), (0.78, -0.78), (0.78, 0.78), (-0.78, 0.78)]), True)],
    "triangle": [(_regular(3), True)],
    "star": [(_regular(5, inner=0.42), True)],
    "cross": [(np.array([(-0.3, -1), (0.3, -1), (0.3, -0.3), (1, -0.3), (1, 0.3), (0.3, 0.3), (0.3, 1),
                         (-0.3, 1), (-0.3, 0.3), (-1, 0.3), (-1, -0.3), (-0.3, -0.3)]), True)],
    "ring": [(_disk(0, 0, 1.0), True), (_disk(0, 0, 0.58), False)],
    "crescent": [(_disk(0, 0, 1.0), True), (_disk(0.5, 0, 0.82), False)],
    "heart": [(_heart(), True)],
    "arrow": [(np.array([(-1, -0.2), (0.15, -0.2), (0.15, -0.6), (1, 0), (0.15, 0.6), (0.15, 0.2), (-1, 0.2)]), True)],
    "hourglass": [(np.array([(-0.75, -1), (0.75, -1), (0.1, 0), (0.75, 1), (-0.75, 1), (-0.1, 0)]), True)],
    # NOVEL_CLASSES
    "pentagon": [(_regular(5), True)],
    "hexagon": [(_regular(6), True)],
    "diamond": [(np.array([(0, -1), (0.55, 0), (0, 1), (-0.55, 0)]), True)],
    "semicircle": [(_disk(0, 0, 1.0)[:25] * (1, -1) + (0, 0.45), True)],
    "ellipse": [(_disk(0, 0, 1.0) * (1, 0.5), True)],
    "trapezoid": [(np.array([(-1, 0.6), (1, 0.6), (0.45, -0.6), (-0.45, -0.6)]), True)],
    "corner": [(np.array([(-0.8, -1), (-0.2, -1), (-0.2, 0.4), (0.8, 0.4), (0.8, 1), (-0.8, 1)]), True)],
    "tee": [(np.array([(-1, -1), (1, -1), (1, -0.4), (0.3, -0.4), (0.3, 1), (-0.3, 1), (-0.3, -0.4),
                       (-1, -0.4)]), True)],
    "frame": [(np.array([(-0.8, -0.8), (0.8, -0.8), (0.8, 0.8), (-0.8, 0.8)]), True),
              (np.array([(-0.42, -0.42), (0.42, -0.42), (0.42, 0.42), (-0.42, 0.42)]), False)],
    "sparkle": [(_regular(4, inner=0.38), True)],
}


#: Photos that ship with scikit-image (greyscale ones too); backgrounds are cut from them.
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry", "retina",
          "camera", "brick", "grass", "gravel", "moon", "coins", "page", "text", "clock")
PHOTO_SIDE = 320  # photos are shrunk to at most this many pixels a side


@lru_cache(maxsize=1)
def _photos() -> tuple:
    """The bundled photos that backgrounds are cut from, as PIL RGB images (loaded once)."""
    import importlib.util

    import matplotlib.cbook
    import skimage.data
    from PIL import Image

    arrays = [getattr(skimage.data, name)() for name in PHOTOS]
    # scikit-learn's two sample photos, read from the package without importing it (2 s saved)
    sklearn_images = Path(importlib.util.find_spec("sklearn").submodule_search_locations[0]) / "datasets" / "images"
    files = [sklearn_images / "china.jpg", sklearn_images / "flower.jpg",
             Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))]
    photos = [Image.fromarray(np.ascontiguousarray(array[..., :3])) if array.ndim == 3 else Image.fromarray(array)
              for array in arrays] + [Image.open(path) for path in files]
    for photo in photos:  # backgrounds need no more detail than this: cutting them is 3x faster
        photo.thumbnail((PHOTO_SIDE, PHOTO_SIDE), Image.BILINEAR)
    return tuple(photo.convert("RGB") for photo in photos)


def _colour(rng: np.random.Generator, saturation: tuple, value: tuple) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(rng.uniform(), rng.uniform(*saturation), rng.uniform(*value)),
                    dtype=np.float32)


LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # how bright each channel looks


def _contrasting(rng: np.random.Generator, under: float) -> np.ndarray:
    """A random colour whose brightness differs by at least SHAPE_CONTRAST from ``under``."""
    darker, lighter = max(0.0, under - SHAPE_CONTRAST - 0.05), max(0.0, 0.95 - under - SHAPE_CONTRAST)
    if rng.uniform() * (darker + lighter) < darker:
        brightness = rng.uniform(0.05, under - SHAPE_CONTRAST)
    else:
        brightness = rng.uniform(under + SHAPE_CONTRAST, 1.0)
    hue = _colour(rng, saturation=(0.3, 1.0), value=(1.0, 1.0))
    luma = float(hue @ LUMA)
    if brightness <= luma:
        return hue * (brightness / luma)
    return hue + (brightness - luma) / (1 - luma) * (1 - hue)  # brighter than the pure hue: towards white


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A square patch of a random photo, scaled to size × size, with its colours re-balanced."""
    from PIL import Image

    photos = _photos()
    photo = photos[rng.integers(len(photos))]
    side = rng.uniform(0.15, 0.6) * min(photo.size)
    left, top = rng.uniform(0, photo.size[0] - side), rng.uniform(0, photo.size[1] - side)
    patch = photo.resize((size, size), Image.BILINEAR, box=(left, top, left + side, top + side))
    patch = np.asarray(patch, dtype=np.float32) / 255 * rng.uniform(0.6, 1.3, size=3).astype(np.float32)
    mean = patch.mean((0, 1))
    return np.clip(mean + rng.uniform(*BACKGROUND_CONTRAST) * (patch - mean), 0, 1)


def _coverage(polygons, size: int) -> np.ndarray:
    """How much of each pixel the polygons cover, in [0, 1], shape [size, size, 1]."""
    from PIL import Image, ImageDraw

    canvas = Image.new("L", (size * SUPERSAMPLE, size * SUPERSAMPLE), 0)
    pen = ImageDraw.Draw(canvas)
    for points, ink in polygons:
        pen.polygon([tuple(point) for point in points * SUPERSAMPLE], fill=255 if ink else 0)
    return np.asarray(canvas.resize((size, size), Image.BOX), dtype=np.float32)[..., None] / 255


def _shape(rng: np.random.Generator, name: str, size: int):
    """(coverage, centre, radius) of one randomly placed, scaled, stretched and rotated shape."""
    radius = rng.uniform(*RADIUS) * size
    centre = rng.uniform(0.8 * radius, size - 0.8 * radius, size=2)
    stretch = radius * rng.uniform(0.85, 1.15, size=2)
    angle = rng.uniform(0, 2 * np.pi)
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    placed = [((points * stretch) @ rotation.T + centre, ink) for points, ink in OUTLINES[name]]
    return _coverage(placed, size), centre, radius


def _distractor(rng: np.random.Generator, size: int) -> np.ndarray:
    """The coverage of a small dot or a short stroke somewhere in the image."""
    x, y = rng.uniform(0, size, size=2)
    if rng.uniform() < 0.5:
        return _coverage([(_disk(x, y, rng.uniform(0.03, 0.07) * size), True)], size)
    length, angle, half_width = rng.uniform(0.12, 0.3) * size, rng.uniform(0, np.pi), 0.025 * size
    along = np.array([math.cos(angle), math.sin(angle)])
    across = np.array([-along[1], along[0]]) * half_width
    start, end = np.array([x, y]), np.array([x, y]) + length * along
    return _coverage([(np.stack([start - across, end - across, end + across, start + across]), True)], size)


def _render(rng: np.random.Generator, name: str, size: int) -> np.ndarray:
    """One image of the shape called ``name``: uint8 [size, size, 3]."""
    image = _background(rng, size)
    coverage, centre, radius = _shape(rng, name, size)
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float32)
    slope, direction = rng.uniform(-0.3, 0.3), rng.uniform(0, 2 * np.pi)
    shading = 1 + slope * ((cols - centre[0]) * math.cos(direction) + (rows - centre[1]) * math.sin(direction)) / radius
    under = float((image @ LUMA * coverage[..., 0]).sum() / max(coverage.sum(), 1e-6))
    colour = _contrasting(rng, under)
    image = image * (1 - coverage) + colour * shading[..., None] * coverage
    for _ in range(rng.integers(0, DISTRACTORS + 1)):
        spot = _distractor(rng, size)
        image = image * (1 - spot) + _colour(rng, saturation=(0.2, 1.0), value=(0.3, 1.0)) * spot
    image += rng.normal(0, NOISE, image.shape).astype(np.float32)
    return (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)


def render_shapes(count: int, *, size: int = 32, seed: int = 0, split: str = "train", classes: str = "shapes10"):
    """``count`` Shapes-10 images without touching the disk: (uint8 [count, size, size, 3], labels).

    Image i has class i mod 10 and is drawn from its own random stream (seed, split, i), so it
    does not depend on how many images are asked for. ``classes="novel"`` draws the ten
    ``NOVEL_CLASSES`` instead (pentagon, hexagon, …), shapes Shapes-10 never shows, from random
    streams of their own. Introduced in chapter 11; ``classes="novel"`` in chapter 13.
    """
    if classes not in CLASS_SETS:
        raise ValueError(f"classes={classes!r}: choose one of {', '.join(map(repr, CLASS_SETS))}")
    if split not in SPLITS:
        raise ValueError(f"split={split!r}: choose one of {', '.join(map(repr, SPLITS))}")
    names = CLASS_SETS[classes]
    # streams 0–2 are Shapes-10's train, val and test; 3–5 the novel classes', so no image is shared
    stream = SPLITS.index(split) + len(SPLITS) * list(CLASS_SETS).index(classes)
    labels = np.arange(count) % len(names)
    images = [_render(np.random.default_rng([seed, stream, index]), names[label], size)
              for index, label in enumerate(labels)]
    return np.stack(images) if images else np.zeros((0, size, size, 3), np.uint8), labels


# ------------------------------------------------------------------------ the folder on disk

def _settings(size: int, counts: dict, seed: int) -> dict:
    return {"data_set": "Shapes-10", "version": VERSION, "size": size, "counts": counts, "seed": seed,
            "classes": list(SHAPES_CLASSES)}


def _expected_files(counts: dict) -> list[str]:
    classes = len(SHAPES_CLASSES)
    return sorted(f"{split}/{SHAPES_CLASSES[index % classes]}/{index // classes:04d}.png"
                  for split, count in counts.items() for index in range(count))


def _files_on_disk(root: Path) -> list[str]:
    return sorted(path.relative_to(root).as_posix() for split in SPLITS if (root / split).is_dir()
                  for path in (root / split).rglob("*") if path.is_file())


def _checksum(root: Path, files: list[str]) -> str:
    digest = hashlib.sha256()
    for name in files:
        digest.update(name.encode() + b"\0" + (root / name).read_bytes())
    return digest.hexdigest()


def _folder_problem(root: Path, settings: dict, files: list[str], on_disk: list[str]) -> str | None:
    """Why a generated folder is not the complete set its manifest should promise; None when it is.

    ``files`` are the files the settings ask for, ``on_disk`` those found under ``root``. Shared by the
    course's generated sets (Shapes-10 here, the mini deepfake set of ``utils.fakes``).
    """
    manifest = root / "manifest.json"
    if not manifest.is_file():
        return "it has no manifest.json, so it may be incomplete"
    try:
        written = json.loads(manifest.read_text())
    except (OSError, ValueError) as error:
        return f"its manifest.json cannot be read ({error})"
    differ = [key for key in settings if written.get(key) != settings[key]]
    if differ:
        return "it was made with other settings (" + ", ".join(
            f"{key} {written.get(key)!r}, not {settings[key]!r}" for key in differ) + ")"
    if on_disk != files:
        missing, extra = sorted(set(files) - set(on_disk)), sorted(set(on_disk) - set(files))
        return (f"{len(missing)} of its files are missing ({', '.join(missing[:2])}{', …' if len(missing) > 2 else ''})"
                if missing else f"it holds files that are not part of the set ({', '.join(extra[:2])})")
    if _checksum(root, files) != written.get("sha256"):
        return "its files do not match the checksum in manifest.json (a file was changed)"
    return None


def _problem(root: Path, settings: dict) -> str | None:
    """Why the folder at ``root`` is not the complete set asked for; None when it is."""
    return _folder_problem(root, settings, _expected_files(settings["counts"]), _files_on_disk(root))


def _write(folder: Path, settings: dict) -> None:
    """Generate every image into ``folder`` and, last, the manifest."""
    from PIL import Image

    for split, count in settings["counts"].items():
        for name in SHAPES_CLASSES:
            (folder / split / name).mkdir(parents=True)
        images, labels = render_shapes(count, size=settings["size"], seed=settings["seed"], split=split)
        for index, (image, label) in enumerate(zip(images, labels)):
            Image.fromarray(image).save(folder / split / SHAPES_CLASSES[label] / f"{index // len(SHAPES_CLASSES):04d}.png")
    files = _expected_files(settings["counts"])
    manifest = dict(settings, files=len(files), sha256=_checksum(folder, files))
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))


def _abandoned(folder: Path) -> bool:
    """True if the process that was writing ``folder`` (its pid is in the name) is gone."""
    pid = folder.name.rsplit("-", 2)[-2]
    if os.name != "posix" or not pid.isdigit():  # Windows' os.kill(pid, 0) would stop that process
        return time.time() - folder.stat().st_mtime > 3600
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # it exists, but belongs to someone else
        return False
    return False


def _remove_abandoned(root: Path) -> None:
    """Delete half-written folders that killed runs left next to ``root``."""
    for leftover in root.parent.glob(f".{root.name}.*-*-*"):
        if _abandoned(leftover):
            shutil.rmtree(leftover, ignore_errors=True)


def _move_into_place(work: Path, root: Path, complete: Callable[[Path], bool], what: str) -> None:
    """Rename the finished ``work`` folder to ``root``, moving an outdated ``root`` aside first.

    ``complete(root)`` says whether a folder already at ``root`` is the set asked for (another process
    finished it first); ``what`` names the set in the error. Shared with ``utils.fakes``.
    """
    for _ in range(3):
        if root.exists():
            if complete(root):  # another process finished the same set first
                shutil.rmtree(work)
                return
            outdated = root.with_name(f".{root.name}.outdated-{os.getpid()}-{uuid.uuid4().hex[:8]}")
            os.replace(root, outdated)
            shutil.rmtree(outdated, ignore_errors=True)
        try:
            os.rename(work, root)
            return
        except OSError:  # another process put its folder there in the meantime: look again
            continue
    raise RuntimeError(f"could not move the new {what} folder {work} to {root}: another process keeps "
                       "replacing it. Run one notebook at a time, or give each its own root.")


def _replace(work: Path, root: Path, settings: dict) -> None:
    """Rename the finished ``work`` folder to ``root``, moving an outdated ``root`` aside first."""
    _move_into_place(work, root, lambda folder: _problem(folder, settings) is None, "Shapes-10")


def _unsafe_to_replace(root: Path) -> bool:
    """True if ``root`` holds anything that a Shapes-10 folder would not: never delete that."""
    return root.exists() and (not root.is_dir() or any(entry.name not in (*SPLITS, "manifest.json")
                                                       for entry in root.iterdir()))


def make_shapes(root=None, *, size: int = 32, train_size: int = 3000, val_size: int = 1000,
                test_size: int = 1000, seed: int = 0, quiet: bool = False) -> Path:
    """Generate the Shapes-10 folder unless a complete one with these settings is there; its path.

    ``root`` defaults to data/shapes10/<size>px-<train>-<val>-<test>-seed<seed> (under
    $COURSE_DATA when set), so that different settings never overwrite each other. Generating
    takes a few seconds and prints one line saying so (unless ``quiet``). Introduced in chapter 11.
    """
    counts = {"train": train_size, "val": val_size, "test": test_size}
    if not (isinstance(size, int) and 8 <= size <= 256):
        raise ValueError(f"size={size!r}: give the side of the square images in pixels, from 8 to 256")
    for split, count in counts.items():
        if not (isinstance(count, int) and count >= len(SHAPES_CLASSES)):
            raise ValueError(f"{split}_size={count!r}: give a whole number of images, at least "
                             f"{len(SHAPES_CLASSES)} (one per class)")
    settings = _settings(size, counts, seed)
    if root is None:
        root = _data_dir() / "shapes10" / f"{size}px-{train_size}-{val_size}-{test_size}-seed{seed}"
    root = Path(root).expanduser()
    problem = _problem(root, settings) if root.exists() else "there is no folder yet"
    if problem is None:
        return root
    if _unsafe_to_replace(root):
        raise FileExistsError(f"{root} holds files that are not Shapes-10's ({', '.join(sorted(e.name for e in root.iterdir())[:3])}), "
                              "so it will not be overwritten. Pass another root, or empty that folder.")
    if not quiet:
        print(f"Shapes-10: generating {sum(counts.values()):,} images of {size}×{size} pixels in {root} "
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
        print(f"Shapes-10: done in {time.perf_counter() - started:.1f} s.")
    return root


def shapes_loaders(batch_size: int = 128, *, size: int = 32, train_size: int = 3000, val_size: int = 1000,
                   test_size: int = 1000, data_seed: int = 0, seed: int = 0, in_memory: bool = True,
                   augment: Callable | None = None, transform: Callable | None = None, device=None,
                   root=None) -> Loaders:
    """Shapes-10 as Loaders(train, val, test): the quick profile's colour images.

    The folder is generated first if needed (``make_shapes`` with ``size``, the three sizes and
    ``data_seed``), then read with the course's image reader. Items are float32 [3, size, size]
    in [0, 1] with ``augment`` on the training images only, then ``transform``; the class names
    are ``loader.dataset.classes``. ``in_memory`` decodes every PNG once into a uint8 tensor
    (much faster per epoch than reading the files again); ``in_memory=False`` reads the files
    on every access, as a large real data set must. ``seed`` seeds the training order. How well
    a plain CNN and a small ResNet learn it, with and without augmentation, at 32×32 and 16×16:
    data/README.md, "How hard Shapes-10 is". Introduced in chapter 11.
    """
    root = make_shapes(root, size=size, train_size=train_size, val_size=val_size, test_size=test_size,
                       seed=data_seed)

    def part(split: str, augmenting: bool):
        samples, classes = folder_samples(root / split, SHAPES_CLASSES)
        files = ImageFiles(samples, classes, augment=augment if augmenting else None, transform=transform)
        return to_memory(files, augment=files.augment, transform=transform) if in_memory else files

    return make_loaders(Splits(part("train", True), part("val", False), part("test", False)), batch_size,
                        device=device, seed=seed)
