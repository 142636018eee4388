"""How fast training runs here, and what each speed-up buys: one table of ratios (chapter 15).

Introduced in chapter 15 (efficient and modern training). Every setting is timed on the device that
runs the notebook and compared with the plain run (float32, the default memory format, eager mode,
the loader in the main process):

- ``time_training_steps()``: images per second of real training steps (forward, loss, backward,
  optimizer step) under bf16 autocast, fp16 autocast with a ``GradScaler``, channels-last or
  ``torch.compile``; for compile, the seconds of the first call (tracing and compiling) apart from
  the steady state, since a learner waits for both;
- ``loader_throughput()``: images per second a ``DataLoader`` delivers from ``EncodedImages``, whose
  items are decoded from PNG and augmented, so worker processes have real work to share;
- ``batch_size_sweep()``: images per second for several batch sizes;
- ``speed_table()`` / ``format_table()``: all of them as rows with a ratio against the plain run;
  ``for_profile()`` sizes them for the quick profile (this course's 2-core CPU) or the full one (a GPU).

Each measurement is repeated and the median kept, with the slowest and fastest repeat beside it,
because another program on the machine can slow any single repeat. On CUDA the clock is read only
after ``torch.cuda.synchronize()``: kernels run asynchronously, and without it the time measured is
the time to queue them, not to run them.
"""
from __future__ import annotations

import contextlib
import copy
import io
import statistics
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset

from utils.training import _grad_scaler, choose_precision

__all__ = ["EncodedImages", "SpeedSettings", "Timing", "batch_size_sweep", "for_profile", "format_table",
           "loader_throughput", "random_batch", "small_cnn", "speed_table", "time_training_steps"]

PRECISIONS = (None, "bf16", "fp16")
GPU_ONLY = "GPU only"


@dataclass(frozen=True)
class Timing:
    """A timed setting: the median images/s over ``repeats``, the slowest and fastest, seconds per repeat.

    ``compile_seconds`` is the first call of a compiled model (tracing, code generation and the
    first step), kept out of ``images_per_s``; ``note`` says anything the number needs beside it.
    """

    images_per_s: float
    low: float
    high: float
    seconds: float
    images: int
    repeats: int
    compile_seconds: float | None = None
    note: str | None = None


def _timing(seconds: list[float], images: int, **extra) -> Timing:
    rates = [images / s for s in seconds]
    return Timing(statistics.median(rates), min(rates), max(rates), statistics.median(seconds), images,
                  len(seconds), **extra)


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _check_precision(precision, device: torch.device) -> None:
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r}: choose None (float32), 'bf16' (bfloat16 autocast) or "
                         "'fp16' (float16 autocast with a GradScaler, CUDA only)")
    if precision == "fp16" and device.type != "cuda":
        raise ValueError(f"precision='fp16' is timed on CUDA GPUs only, not on {device.type}: float16 with a "
                         "GradScaler exists for GPUs' tensor cores; on a CPU time precision='bf16' instead")


def _autocast_and_scaler(precision, device: torch.device):
    """The autocast context to train under and the GradScaler (or None), and a note (or None)."""
    if precision is None:
        return contextlib.nullcontext, None, None
    if device.type == "cuda":  # the same choice as fit(amp=...), e.g. float16 where bf16 is not native
        chosen = choose_precision(precision, device)
        scaler = _grad_scaler() if chosen.scaler else None
        return (lambda: torch.autocast("cuda", dtype=chosen.dtype)), scaler, chosen.note
    note = None if _cpu_has_bf16() else "this CPU has no bfloat16 instructions: each bf16 value is converted"
    return (lambda: torch.autocast(device.type, dtype=torch.bfloat16)), None, note


def _cpu_has_bf16() -> bool:
    """Whether oneDNN computes in bfloat16 on this CPU (AVX512-BF16 or AMX), rather than converting."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def _prepare(model: nn.Module, batch, device: torch.device, channels_last: bool):
    """A copy of ``model`` on ``device`` (the caller's stays as it was), and the batch moved there."""
    inputs, targets = batch
    model = copy.deepcopy(model).to(device).train()
    inputs, targets = inputs.to(device), targets.to(device)
    if channels_last:
        if inputs.dim() != 4:
            raise ValueError(f"channels_last needs image batches of shape (N, C, H, W); got {tuple(inputs.shape)}")
        model = model.to(memory_format=torch.channels_last)
        inputs = inputs.contiguous(memory_format=torch.channels_last)
    return model, inputs, targets


def time_training_steps(model: nn.Module, batch, *, steps: int, warmup: int, device, precision: str | None = None,
                        channels_last: bool = False, compiled: bool = False, repeats: int = 3,
                        lr: float = 0.01) -> Timing:
    """Images per second of ``steps`` training steps on ``batch``, the median of ``repeats`` (chapter 15).

    A step is what ``fit()`` does per batch: zero the gradients, forward under autocast, cross-entropy,
    backward (through the GradScaler for fp16), an SGD step. ``model`` is copied, so the caller's model
    keeps its weights and memory format. ``precision``: None (float32), ``"bf16"`` (bfloat16 autocast,
    on CPUs and GPUs) or ``"fp16"`` (float16 autocast with a GradScaler, CUDA only). ``compiled``:
    ``torch.compile`` the copy; its first call is timed on its own (``compile_seconds``). ``warmup``
    untimed steps come first (caches, oneDNN's kernel choice, cuDNN's autotuning).
    """
    device = torch.device(device)
    _check_precision(precision, device)
    if steps < 1 or warmup < 0 or repeats < 1:
        raise ValueError(f"steps={steps}, warmup={warmup}, repeats={repeats}: need steps >= 1, warmup >= 0, "
                         "repeats >= 1")
    model, inputs, targets = _prepare(model, batch, device, channels_last)
    autocast, scaler, note = _autocast_and_scaler(precision, device)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    compile_seconds = None
    if compiled:
        model = torch.compile(model)
        compile_seconds = _seconds(lambda: _step(model, inputs, targets, optimizer, autocast, scaler), device)
        note = _compile_note(compile_seconds, note)
    for _ in range(warmup):
        _step(model, inputs, targets, optimizer, autocast, scaler)
    seconds = [_seconds(lambda: [_step(model, inputs, targets, optimizer, autocast, scaler) for _ in range(steps)],
                        device) for _ in range(repeats)]
    return _timing(seconds, steps * len(inputs), compile_seconds=compile_seconds, note=note)


def _step(model, inputs, targets, optimizer, autocast, scaler) -> None:
    optimizer.zero_grad(set_to_none=True)
    with autocast():
        loss = F.cross_entropy(model(inputs), targets)
    if scaler is None:
        loss.backward()
        optimizer.step()
    else:
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()


def _seconds(work: Callable, device: torch.device) -> float:
    _synchronize(device)
    start = time.perf_counter()
    work()
    _synchronize(device)
    return time.perf_counter() - start


def _compile_note(seconds: float, note: str | None) -> str:
    cached = _inductor_counter("fxgraph_cache_hit") > 0
    where = "kernels from the cache of an earlier run" if cached else "kernels generated and compiled now"
    return "; ".join(filter(None, [f"compile: {seconds:.1f} s before the first step ({where})", note]))


def _inductor_counter(name: str) -> int:
    from torch._dynamo.utils import counters
    return counters["inductor"][name]


# ------------------------------------------------------------------------------ loading

class EncodedImages(Dataset):
    """``count`` colour images stored as PNG bytes; each item is decoded and augmented when read.

    The work a real image folder does per item: decode a PNG twice the output ``size``, cut a random
    crop of 60–100 % of its side, resize it to ``size`` × ``size`` with antialiasing, flip it half the
    time, scale to floats; so that ``DataLoader`` workers have something to share. The augmentation
    of item i is drawn from a generator seeded with ``seed + i``: every number of workers gives the
    same images in the same order. Defined in a module, not a notebook, so that workers started with
    spawn (macOS, Windows) can import it. Introduced in chapter 15.
    """

    def __init__(self, count: int, *, size: int = 32, seed: int = 0, num_classes: int = 10):
        generator = torch.Generator().manual_seed(seed)
        coarse = torch.rand(count, 3, size // 4, size // 4, generator=generator)
        images = F.interpolate(coarse, size=(2 * size, 2 * size), mode="bilinear", align_corners=False)
        self.pngs = [_png((image * 255).to(torch.uint8)) for image in images]
        self.labels = torch.randint(num_classes, (count,), generator=generator).tolist()
        self.seed, self.size = seed, size

    def __len__(self) -> int:
        return len(self.pngs)

    def __getitem__(self, index: int):
        with Image.open(io.BytesIO(self.pngs[index])) as png:
            image = torch.from_numpy(np.asarray(png.convert("RGB"), dtype=np.float32)).permute(2, 0, 1)
        generator = torch.Generator().manual_seed(self.seed + index)
        side = image.shape[-1]
        crop = int(side * (0.6 + 0.4 * torch.rand((), generator=generator)))
        top, left = torch.randint(side - crop + 1, (2,), generator=generator).tolist()
        image = image[None, :, top:top + crop, left:left + crop]
        image = F.interpolate(image, size=(self.size, self.size), mode="bilinear", antialias=True)[0]
        if torch.rand((), generator=generator) < 0.5:
            image = image.flip(-1)
        return image / 255, self.labels[index]


def _png(image: torch.Tensor) -> bytes:
    """A (3, H, W) uint8 tensor as the bytes of a PNG file."""
    buffer = io.BytesIO()
    Image.fromarray(image.permute(1, 2, 0).numpy()).save(buffer, format="PNG")
    return buffer.getvalue()


def loader_throughput(dataset, *, batch_size: int, num_workers: int, pin_memory: bool, batches: int,
                      device="cpu", repeats: int = 3, multiprocessing_context=None) -> Timing:
    """Images per second that a ``DataLoader`` delivers to ``device``: the median of ``repeats`` (chapter 15).

    Each repeat makes a fresh loader and reads ``batches`` batches, so starting the workers counts,
    as it does once per epoch. ``pin_memory`` (CUDA only) puts batches in page-locked memory, from
    which ``.to(device, non_blocking=True)`` copies while the GPU computes.
    """
    device = torch.device(device)
    if pin_memory and device.type != "cuda":
        raise ValueError(f"pin_memory=True speeds up copies to a CUDA GPU; device={device.type} has none")
    if batches * batch_size > len(dataset):
        raise ValueError(f"batches={batches} of {batch_size} need {batches * batch_size} items; the data set has "
                         f"{len(dataset)}: use fewer batches or a bigger data set")

    def read() -> None:
        loader = DataLoader(dataset, batch_size=batch_size, num_workers=num_workers, pin_memory=pin_memory,
                            multiprocessing_context=multiprocessing_context if num_workers else None)
        for _, (inputs, _labels) in zip(range(batches), loader):
            inputs.to(device, non_blocking=pin_memory)

    return _timing([_seconds(read, device) for _ in range(repeats)], batches * batch_size)


# --------------------------------------------------------------------------- batch size

def batch_size_sweep(model: nn.Module, make_batch: Callable, sizes, *, steps: int, warmup: int, device,
                     repeats: int = 3) -> dict[int, Timing]:
    """Images per second of training steps for each batch size in ``sizes`` (chapter 15).

    ``make_batch(size)`` returns ``(inputs, targets)`` with ``size`` rows. Bigger batches keep the
    device busier, until it is full; the images per second stop growing there.
    """
    return {size: time_training_steps(model, make_batch(size), steps=steps, warmup=warmup, device=device,
                                      repeats=repeats) for size in sizes}


# -------------------------------------------------------------------------------- table

@dataclass(frozen=True)
class SpeedSettings:
    """How big each measurement of ``speed_table()`` is; ``for_profile()`` chooses them."""

    batch_size: int
    image_size: int
    steps: int
    warmup: int
    repeats: int
    sizes: tuple[int, ...]
    loader_items: int
    loader_batches: int
    workers: int
    width: int = 16


def for_profile(profile, device) -> SpeedSettings:
    """The sizes of chapter 15's speed table: small enough for ~15 s on a 2-core CPU, or a GPU's worth.

    ``profile`` is a ``Profile`` or its name (``"quick"``, ``"full"``). On a CPU the quick sizes are
    used whatever the profile, since the full ones would take minutes there. Introduced in chapter 15.
    """
    quick = str(profile) == "quick" or torch.device(device).type == "cpu"
    if quick:
        return SpeedSettings(batch_size=32, image_size=32, steps=8, warmup=2, repeats=3, sizes=(8, 32, 128),
                             loader_items=256, loader_batches=8, workers=2, width=16)
    return SpeedSettings(batch_size=256, image_size=32, steps=50, warmup=10, repeats=3, sizes=(32, 256, 1024),
                         loader_items=8192, loader_batches=32, workers=4, width=64)


def small_cnn(width: int = 16, num_classes: int = 10) -> nn.Sequential:
    """Two convolution blocks with batch norm and a linear classifier: the speed table's model (chapter 15)."""
    return nn.Sequential(
        nn.Conv2d(3, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(width, 2 * width, 3, padding=1, bias=False), nn.BatchNorm2d(2 * width), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2 * width, num_classes))


def random_batch(size: int, image_size: int = 32, num_classes: int = 10, seed: int = 0):
    """``size`` random colour images and labels: speed does not depend on what the pixels show (chapter 15)."""
    generator = torch.Generator().manual_seed(seed)
    return (torch.randn(size, 3, image_size, image_size, generator=generator),
            torch.randint(num_classes, (size,), generator=generator))


TRAINING_SETTINGS = {  # the row's name: time_training_steps' options
    "plain (float32)": {},
    "bf16 autocast": {"precision": "bf16"},
    "fp16 autocast + GradScaler": {"precision": "fp16"},
    "channels-last": {"channels_last": True},
    "torch.compile": {"compiled": True},
}


GROUPS = ("training", "loader", "batch size")


def speed_table(settings: SpeedSettings, device, *, model: nn.Module | None = None, groups=GROUPS) -> list[dict]:
    """Chapter 15's table: one row per setting with images/s and the ratio against its plain run.

    Three groups of rows: ``"training"``, each of ``TRAINING_SETTINGS`` against plain float32;
    ``"loader"``, the DataLoader with ``settings.workers`` workers, and with pinned memory, against
    reading in the main process; ``"batch size"``, each of ``settings.sizes`` against the plain run
    at ``settings.batch_size``. A row that this device cannot fill says why in its note ("GPU only")
    instead of a number. ``model`` defaults to ``small_cnn(settings.width)``. Introduced in chapter 15.
    """
    unknown = set(groups) - set(GROUPS)
    if unknown:
        raise ValueError(f"groups={sorted(unknown)} unknown: choose among {', '.join(GROUPS)}")
    device = torch.device(device)
    model = model if model is not None else small_cnn(settings.width)
    rows = _training_rows(model, settings, device) if "training" in groups else []
    if "loader" in groups:
        rows += _loader_rows(settings, device)
    if "batch size" in groups:
        rows += _batch_rows(model, settings, device)
    return rows


def _training_rows(model, settings: SpeedSettings, device: torch.device) -> list[dict]:
    batch = random_batch(settings.batch_size, settings.image_size)
    rows, plain = [], None
    for name, options in TRAINING_SETTINGS.items():
        if options.get("precision") == "fp16" and device.type != "cuda":
            rows.append(_row(name, device, None, None, f"{GPU_ONLY}: float16 with a GradScaler is for GPUs' "
                                                      "tensor cores; a CPU's mixed precision is bf16"))
            continue
        timing = time_training_steps(model, batch, steps=settings.steps, warmup=settings.warmup, device=device,
                                     repeats=settings.repeats, **options)
        plain = plain or timing
        rows.append(_row(name, device, timing, plain, timing.note))
    return rows


def _loader_rows(settings: SpeedSettings, device: torch.device) -> list[dict]:
    dataset = EncodedImages(settings.loader_items, size=settings.image_size)
    measure = (lambda workers, pin: loader_throughput(
        dataset, batch_size=settings.batch_size, num_workers=workers, pin_memory=pin,
        batches=settings.loader_batches, device=device, repeats=settings.repeats))
    main = measure(0, False)
    workers = measure(settings.workers, False)
    named = f"DataLoader, {settings.workers} worker{'s' if settings.workers != 1 else ''}"
    rows = [_row("DataLoader, 0 workers", device, main, main, "reads in the notebook's own process"),
            _row(named, device, workers, main,
                 "starting the workers counts, as it does every epoch")]
    if device.type == "cuda":
        pinned = measure(settings.workers, True)
        rows.append(_row(f"{named} + pinned memory", device, pinned, main, None))
    else:
        rows.append(_row(f"{named} + pinned memory", device, None, None,
                         f"{GPU_ONLY}: pinned memory speeds up copies to a GPU"))
    return rows


def _batch_rows(model, settings: SpeedSettings, device: torch.device) -> list[dict]:
    sizes = sorted({settings.batch_size, *settings.sizes})
    sweep = batch_size_sweep(model, lambda size: random_batch(size, settings.image_size), sizes,
                             steps=settings.steps, warmup=settings.warmup, device=device, repeats=settings.repeats)
    base = sweep[settings.batch_size]
    return [_row(f"batch size {size}", device, timing, base, f"against batch size {settings.batch_size}")
            for size, timing in sweep.items()]


def _device_label(device: torch.device) -> str:
    """The device, and for the CPU its thread count: 2 threads on 2 busy cores can be slower than 1."""
    return f"cpu ×{torch.get_num_threads()}" if device.type == "cpu" else device.type


def _row(setting: str, device: torch.device, timing: Timing | None, plain: Timing | None, note) -> dict:
    row = {"setting": setting, "device": _device_label(device), "images/s": None, "ratio": None, "spread": None,
           "note": note or ""}
    if timing is not None:
        row.update({"images/s": timing.images_per_s, "ratio": timing.images_per_s / plain.images_per_s,
                    "spread": (timing.low / plain.images_per_s, timing.high / plain.images_per_s)})
        if timing.compile_seconds is not None:
            row["compile_seconds"] = timing.compile_seconds
    return row


def format_table(rows: list[dict]) -> str:
    """The rows of ``speed_table()`` as aligned text: setting, device, images/s, ratio (spread), note."""
    lines = [f"{'setting':<40} {'device':<6} {'images/s':>9} {'ratio':>6} {'spread':>13}  note"]
    for row in rows:
        if row["images/s"] is None:
            numbers = f"{'—':>9} {'—':>6} {'':>13}"
        else:
            low, high = row["spread"]
            numbers = f"{row['images/s']:>9.0f} {row['ratio']:>6.2f} {f'{low:.2f}–{high:.2f}':>13}"
        lines.append(f"{row['setting']:<40} {row['device']:<6} {numbers}  {row['note']}")
    return "\n".join(lines)
