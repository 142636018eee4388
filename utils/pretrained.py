"""Transfer learning's backbones and tasks: the course's own pre-trained ResNet, and ImageNet's ResNet-18.

Introduced in chapter 13 (transfer learning); chapter 14 (the deepfake detector) fine-tunes the
same backbone. In the full profile the backbone is torchvision's ResNet-18 with ImageNet weights
(``imagenet_resnet18``). The quick profile has no ImageNet, so the course pre-trains a small
ResNet of its own on a source task it can draw offline, and caches it:

- the source task: Shapes-10 (``utils.shapes``), drawn in memory (8,000 images of 16×16 by default);
- the related target: ``NOVEL_CLASSES``, ten shapes the source never shows, drawn by the same
  renderer (``target_task("shapes", k)``);
- the unrelated target: scikit-learn's 8×8 handwritten digits, scaled up and copied into the three
  colour channels (``target_task("digits", k)``).

Every image is standardised on its own (``standardise_each``) before it meets the network, the
way ImageNet models expect their own normalisation.

``pretrained_backbone()`` trains the backbone the first time and writes it, atomically, to
data/pretrained/shapes10-backbone.pt with a manifest: the settings (seed included), the torch
version and a SHA-256 of the weights. Later calls load it. A cache that is missing, damaged
(cut short, not a checkpoint, weights that do not match their checksum), made with other settings,
or that no longer fits the network ``utils.resnet`` builds is trained again, with one line saying why.
The same settings give the same weights on every run (on the same machine and thread count).
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlparse

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import TensorDataset

from utils.checkpoints import save_checkpoint
from utils.data import DataUnavailable, _data_dir, _reachable, digits_splits
from utils.resnet import ResNet, resnet_for_small_images
from utils.shapes import NOVEL_CLASSES, render_shapes
from utils.training import _progress_bar

__all__ = ["BackboneSettings", "TargetTask", "WeightsUnavailable", "imagenet_resnet18", "pretrained_backbone",
           "sample_per_class", "standardise_each", "target_task"]

FORMAT = 1  # bump when the cache file's layout changes
CACHE_NAME = "shapes10-backbone.pt"
TEST_IMAGES = 1000  # the related target's fixed test set: 100 images of each novel shape
DIGITS = tuple(str(digit) for digit in range(10))


class WeightsUnavailable(DataUnavailable):
    """Pre-trained weights are neither on disk nor downloadable; the message says how to get them."""


@dataclass(frozen=True)
class BackboneSettings:
    """How the course's backbone is pre-trained: the source images, the network and the training.

    ``images`` Shapes-10 images of ``size``×``size`` (drawn with ``seed``), a ResNet of ``depth``
    layers and stem width ``width`` (``resnet_for_small_images``), ``epochs`` passes in batches of
    ``batch_size`` with AdamW and a one-cycle schedule peaking at ``lr``. Introduced in chapter 13.
    """

    images: int = 8000
    size: int = 16
    depth: int = 8
    width: int = 16
    epochs: int = 4
    batch_size: int = 128
    lr: float = 3e-3
    seed: int = 0


class TargetTask(NamedTuple):
    """A target task: a small labelled training set, a fixed test set, and the class names."""

    train: TensorDataset
    test: TensorDataset
    classes: tuple[str, ...]


# ----------------------------------------------------------------------------- the images

def standardise_each(images: torch.Tensor) -> torch.Tensor:
    """Each image of a batch [N, C, H, W] shifted and scaled to mean 0 and standard deviation 1.

    The statistics are the image's own (over its pixels and channels), so a dark or a pale
    picture, a colour shape or a greyscale digit all reach the network on the same scale; a
    blank image is only centred. This is the course backbone's input normalisation.
    Introduced in chapter 13.
    """
    if images.ndim != 4:
        raise ValueError(f"images of shape {tuple(images.shape)}: give a batch [N, C, H, W]; "
                         "for one image use image[None]")
    images = images.float()
    mean = images.mean(dim=(1, 2, 3), keepdim=True)
    std = images.std(dim=(1, 2, 3), keepdim=True)
    return (images - mean) / std.clamp_min(1e-3)


def _as_tensors(images, labels) -> tuple[torch.Tensor, torch.Tensor]:
    """Rendered uint8 images [N, H, W, 3] and labels as (standardised float [N, 3, H, W], int64)."""
    pixels = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255
    return standardise_each(pixels), torch.from_numpy(labels).long()


@lru_cache(maxsize=4)
def _novel_test_images(size: int):
    """The related target's fixed test images, drawn once per size (they take about a second)."""
    return render_shapes(TEST_IMAGES, size=size, seed=0, split="test", classes="novel")


def _digits_as_backbone_input(images: torch.Tensor, size: int) -> torch.Tensor:
    """8×8 greyscale digits [N, 1, 8, 8] scaled to size × size and copied into three channels."""
    scaled = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False)
    return standardise_each(scaled.expand(-1, 3, -1, -1))


def sample_per_class(labels: torch.Tensor, count: int, seed: int) -> torch.Tensor:
    """Indices of ``count`` examples of every class, drawn at random with ``seed``, sorted.

    A small labelled set cut from a large one, as transfer learning's targets (chapter 13) and the
    distilled student of chapter 15 get. Introduced in chapter 13.
    """
    generator = torch.Generator().manual_seed(seed)
    chosen = []
    for label in labels.unique():
        members = torch.nonzero(labels == label).flatten()
        chosen.append(members[torch.randperm(len(members), generator=generator)[:count]])
    return torch.cat(chosen).sort().values


def target_task(name: str, labels_per_class: int, *, seed: int = 0, size: int = 16) -> TargetTask:
    """A target task for transfer learning: ``labels_per_class`` training images of each class.

    - ``"shapes"``: the ten novel shapes (pentagon, hexagon, …), which the backbone's source
      task never shows, drawn like Shapes-10: the related target. The training images come from
      ``seed``; the test set is always the same 1,000 images (100 per class).
    - ``"digits"``: scikit-learn's 8×8 digits, scaled to ``size``×``size`` and copied into the
      three colour channels: the unrelated target. The training images are drawn with ``seed``
      from the digits' training split (at most 100 per class); the test set is the fixed 360 of
      ``digits_splits()``.

    Images are standardised (``standardise_each``), float32 [N, 3, size, size]; labels are 0..9.
    More labels with the same seed keep the fewer ones' shapes. Introduced in chapter 13.
    """
    if name not in ("shapes", "digits"):
        raise ValueError(f"target task {name!r}: choose 'shapes' (the related target, ten novel shapes) "
                         "or 'digits' (the unrelated target, handwritten digits)")
    most = 100 if name == "digits" else 1000
    if not (isinstance(labels_per_class, int) and 1 <= labels_per_class <= most):
        raise ValueError(f"labels_per_class={labels_per_class!r}: give a whole number from 1 to {most} "
                         f"for the {name} task")
    if name == "shapes":
        train = _as_tensors(*render_shapes(10 * labels_per_class, size=size, seed=seed, classes="novel"))
        test = _as_tensors(*_novel_test_images(size))
        return TargetTask(TensorDataset(*train), TensorDataset(*test), NOVEL_CLASSES)
    splits = digits_splits(0, image=True)
    images, labels = splits.train.tensors
    chosen = sample_per_class(labels, labels_per_class, seed)
    train = TensorDataset(_digits_as_backbone_input(images[chosen], size), labels[chosen])
    test_images, test_labels = splits.test.tensors
    return TargetTask(train, TensorDataset(_digits_as_backbone_input(test_images, size), test_labels), DIGITS)


# --------------------------------------------------------------------------- pre-training

def _network(settings: BackboneSettings) -> ResNet:
    """The backbone's network, freshly initialised without touching the global random state.

    Loading the cache and pre-training must leave the same random state behind, or a notebook's
    numbers after this call would differ between its first run and the next.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(settings.seed)
        return resnet_for_small_images(settings.depth, settings.width, in_channels=3, num_classes=10)


def _pretrain(settings: BackboneSettings, progress: bool) -> dict:
    """Train the backbone on Shapes-10 from ``settings.seed``; its state_dict.

    The global random state is set aside, so the result does not depend on what ran before and
    nothing after it is disturbed.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(settings.seed)
        images, labels = _as_tensors(*render_shapes(settings.images, size=settings.size, seed=settings.seed))
        model = _network(settings)
        optimizer = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=5e-4)
        batches = max(1, len(images) // settings.batch_size)
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=settings.lr,
                                                       total_steps=settings.epochs * batches)
        order = torch.Generator().manual_seed(settings.seed)
        model.train()
        bar = _progress_bar(settings.epochs, 0, progress)
        try:
            for _ in range(settings.epochs):
                shuffled = torch.randperm(len(images), generator=order)
                for batch in shuffled[:batches * settings.batch_size].view(batches, -1):
                    loss = F.cross_entropy(model(images[batch]), labels[batch])
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    schedule.step()
                bar.update(1)
                bar.set_postfix_str(f"train loss {loss.item():.3f}", refresh=False)
        finally:
            bar.close()
    return model.state_dict()


# ------------------------------------------------------------------------------ the cache

def _weights_checksum(weights: dict) -> str:
    """SHA-256 over every tensor's name, dtype, shape and bytes, in name order."""
    digest = hashlib.sha256()
    for name in sorted(weights):
        tensor = weights[name].detach().cpu().contiguous()
        digest.update(f"{name}\0{tensor.dtype}\0{tuple(tensor.shape)}\0".encode())
        digest.update(tensor.view(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


def _differences(written: dict, asked: dict) -> str:
    return ", ".join(f"{key} {written.get(key)!r}, not {value!r}" for key, value in asked.items()
                     if written.get(key) != value)


def _cached(path: Path, settings: BackboneSettings) -> tuple[ResNet | None, str]:
    """(the network with the cached weights, "") if ``path`` holds them for ``settings``; else (None, why not)."""
    if not path.is_file():
        return None, "there is no cached backbone yet"
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # cut short, not a torch file, or not only tensors and plain values
        first_line = (str(error).splitlines() or [""])[0][:120]
        return None, (f"it cannot be read ({type(error).__name__}: {first_line}): the file is cut short or not a "
                      "checkpoint")
    if not (isinstance(state, dict) and state.get("format") == FORMAT and isinstance(state.get("manifest"), dict)
            and isinstance(state.get("weights"), dict)):
        return None, "it is not a checkpoint of the course's backbone"
    manifest = state["manifest"]
    differ = _differences(manifest.get("settings") or {}, asdict(settings))
    if differ:
        return None, f"it was made with other settings ({differ})"
    if manifest.get("sha256") != _weights_checksum(state["weights"]):
        return None, "its weights do not match the checksum in its manifest: the file was changed or damaged"
    model = _network(settings)
    try:
        model.load_state_dict(state["weights"])
    except RuntimeError as error:
        detail = " ".join(line.strip() for line in str(error).splitlines()[1:2])
        return None, f"its weights do not fit the network utils.resnet builds now ({detail[:160]})"
    return model, ""


def pretrained_backbone(settings: BackboneSettings | None = None, *, path=None, quiet: bool = False) -> ResNet:
    """The course's backbone: a small ResNet pre-trained on Shapes-10, in eval mode, with its 10-class head.

    Loaded from ``path`` (default data/pretrained/shapes10-backbone.pt, under $COURSE_DATA when
    set) when that file holds the backbone for ``settings`` (default ``BackboneSettings()``);
    otherwise pre-trained on the CPU (with the default settings about 30–50 s of CPU time on two
    threads), written there atomically and returned, with one line saying why (unless ``quiet``).
    Replace ``model.fc`` for a new task, as with ``imagenet_resnet18()``. Introduced in chapter 13.
    """
    settings = settings if settings is not None else BackboneSettings()
    if not isinstance(settings, BackboneSettings):
        raise TypeError(f"settings={settings!r}: give a BackboneSettings (or None for the defaults), e.g. "
                        "BackboneSettings(epochs=2)")
    path = Path(path).expanduser() if path is not None else _data_dir() / "pretrained" / CACHE_NAME
    model, why = _cached(path, settings)
    if model is not None:
        return model.eval()
    if not quiet:
        print(f"Pre-training the course's backbone on {settings.images:,} Shapes-10 images for {settings.epochs} "
              f"epoch{'s' if settings.epochs != 1 else ''}, since {path} cannot be used: {why}.", flush=True)
    started = time.perf_counter()
    weights = _pretrain(settings, progress=not quiet)
    manifest = {"settings": asdict(settings), "torch": str(torch.__version__), "sha256": _weights_checksum(weights),
                "seconds": round(time.perf_counter() - started, 1)}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_checkpoint({"format": FORMAT, "manifest": manifest, "weights": weights}, path)
    except OSError as error:  # the backbone is still good: say why it is not cached, and go on
        print(f"Pre-trained in {manifest['seconds']:.1f} s, but it cannot be cached in {path} "
              f"({error.strerror or error}), so it will be trained again next time. Set COURSE_DATA to a folder "
              "you can write to, or pass path=.")
    else:
        if not quiet:
            print(f"Pre-trained in {manifest['seconds']:.1f} s and cached in {path}.")
    model = _network(settings)
    model.load_state_dict(weights)
    return model.eval()


# --------------------------------------------------------------------- ImageNet (full profile)

def _imagenet_manual(url: str, folder: Path) -> str:
    return (f"To get them by hand: download {url} (45 MB) on a machine with internet and put it, under that "
            f"name, in {folder} (torch's hub cache); or put it in <folder>/hub/checkpoints/ and set "
            "os.environ['TORCH_HOME'] = '<folder>' before calling this again. Or use the quick profile "
            "(os.environ['COURSE_PROFILE'] = 'quick' before setup(), then restart the kernel), where the course's "
            "own backbone, pretrained_backbone(), stands in for ImageNet's.")


def imagenet_resnet18(*, progress: bool = True, timeout: float = 10.0) -> nn.Module:
    """torchvision's ResNet-18 with ImageNet weights (``ResNet18_Weights.IMAGENET1K_V1``), in eval mode.

    The weights come from torch's hub cache (``$TORCH_HOME/hub/checkpoints``, by default
    ~/.cache/torch/hub/checkpoints) or are downloaded there once (45 MB, checked against the hash
    in the file's name). Offline, it fails within ``timeout`` seconds with a ``WeightsUnavailable``
    error that names the manual route. The full profile's backbone; introduced in chapter 13.
    """
    from torchvision.models import ResNet18_Weights, resnet18

    weights = ResNet18_Weights.IMAGENET1K_V1
    folder = Path(torch.hub.get_dir()) / "checkpoints"
    cached = folder / Path(urlparse(weights.url).path).name
    if not cached.is_file():
        why = _reachable(weights.url, timeout)
        if why is not None:
            raise WeightsUnavailable(f"ResNet-18's ImageNet weights are not in {folder} and could not be downloaded "
                                     f"({weights.url}: {why}).\n" + _imagenet_manual(weights.url, folder))
    placed = cached.is_file()
    try:
        model = resnet18(weights=weights, progress=progress)
    except Exception as error:
        reason = f"{type(error).__name__}: {(str(getattr(error, 'reason', error)).splitlines() or [''])[0][:200]}"
        if placed:  # a damaged or foreign file under the expected name
            raise WeightsUnavailable(f"{cached} cannot be used as ResNet-18's ImageNet weights ({reason}). Delete "
                                     "it and call this again to download it afresh.\n"
                                     + _imagenet_manual(weights.url, folder)) from None
        # the network went away during the download, or the download did not match its hash
        raise WeightsUnavailable(f"ResNet-18's ImageNet weights could not be downloaded from {weights.url} "
                                 f"({reason}).\n" + _imagenet_manual(weights.url, folder)) from None
    return model.eval()
