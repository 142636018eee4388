"""utils.speed: chapter 15's timings measure what they say, and the table is one row per setting."""
import math

import pytest
import torch
from torch import nn

from utils import speed

TINY = speed.SpeedSettings(batch_size=4, image_size=8, steps=2, warmup=1, repeats=2, sizes=(2, 4),
                           loader_items=16, loader_batches=2, workers=1, width=4)


def batch(size=4, image_size=8):
    return speed.random_batch(size, image_size)


def record_first_conv(model, seen: list):
    """A hook that records the input and weight the first convolution gets (it survives deepcopy)."""
    conv = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
    conv.register_forward_pre_hook(lambda module, args: seen.append((args[0], module.weight.detach().clone(
        memory_format=torch.preserve_format))))
    return model


def test_timing_counts_images_and_is_positive():
    timing = speed.time_training_steps(speed.small_cnn(4), batch(), steps=3, warmup=1, device="cpu", repeats=3)
    assert timing.images == 3 * 4 and timing.repeats == 3
    assert 0 < timing.low <= timing.images_per_s <= timing.high
    assert timing.seconds > 0 and math.isclose(timing.images / timing.seconds, timing.images_per_s, rel_tol=1e-9)
    assert timing.compile_seconds is None


def test_training_steps_train_a_copy_and_leave_the_callers_model_alone():
    model = speed.small_cnn(4)
    before = [p.detach().clone() for p in model.parameters()]
    seen = []
    record_first_conv(model, seen)
    speed.time_training_steps(model, batch(), steps=2, warmup=1, device="cpu", repeats=1)
    assert len(seen) == 1 + 2  # warmup and the timed steps, each one forward pass
    assert not torch.equal(seen[0][1], seen[-1][1])  # the copy's weights moved: real optimizer steps
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_channels_last_changes_the_memory_format_of_input_and_weights():
    seen_plain, seen_last = [], []
    speed.time_training_steps(record_first_conv(speed.small_cnn(4), seen_plain), batch(), steps=1, warmup=0,
                              device="cpu", repeats=1)
    speed.time_training_steps(record_first_conv(speed.small_cnn(4), seen_last), batch(), steps=1, warmup=0,
                              device="cpu", repeats=1, channels_last=True)
    (x, w), = seen_plain
    assert x.is_contiguous() and w.is_contiguous()
    (x, w), = seen_last
    assert x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
    assert w.is_contiguous(memory_format=torch.channels_last) and not w.is_contiguous()


def test_bf16_runs_under_autocast():
    model = speed.small_cnn(4)
    dtypes = []
    model[0].register_forward_hook(lambda module, args, output: dtypes.append(output.dtype))
    speed.time_training_steps(model, batch(), steps=1, warmup=0, device="cpu", repeats=1, precision="bf16")
    speed.time_training_steps(model, batch(), steps=1, warmup=0, device="cpu", repeats=1)
    assert dtypes == [torch.bfloat16, torch.float32]


def test_fp16_is_gpu_only_on_the_cpu(monkeypatch):
    with pytest.raises(ValueError, match="CUDA GPUs only.*bf16"):
        speed.time_training_steps(speed.small_cnn(4), batch(), steps=1, warmup=0, device="cpu", precision="fp16")
    with pytest.raises(ValueError, match="precision='half'.*'bf16'"):
        speed.time_training_steps(speed.small_cnn(4), batch(), steps=1, warmup=0, device="cpu", precision="half")
    monkeypatch.setitem(speed.TRAINING_SETTINGS, "torch.compile", {})  # compiling is tested below
    rows = speed.speed_table(TINY, "cpu", groups=("training",))
    fp16 = next(row for row in rows if row["setting"].startswith("fp16"))
    assert fp16["images/s"] is None and fp16["ratio"] is None and fp16["note"].startswith("GPU only")


def test_compile_seconds_are_kept_apart_from_the_steady_state(monkeypatch):
    """torch.compile's first call is slow; a stand-in compile that sleeps on its first call shows the split."""
    calls = []

    def slow_first_call(model):
        def forward(x):
            calls.append(x.shape)
            if len(calls) == 1:
                import time
                time.sleep(0.3)
            return model(x)
        return forward

    monkeypatch.setattr(torch, "compile", slow_first_call)
    timing = speed.time_training_steps(speed.small_cnn(4), batch(), steps=2, warmup=1, device="cpu", repeats=2,
                                       compiled=True)
    assert len(calls) == 1 + 1 + 2 * 2  # the first call, the warmup, two repeats of two steps
    assert timing.compile_seconds >= 0.3
    assert timing.seconds < 0.3  # the sleep is not in the steady state
    assert timing.note.startswith(f"compile: {timing.compile_seconds:.1f} s before the first step")


def test_loader_with_workers_gives_the_same_images_in_the_same_order():
    dataset = speed.EncodedImages(12, size=8, seed=3)
    read = (lambda workers, context=None: list(torch.utils.data.DataLoader(
        dataset, batch_size=4, num_workers=workers, multiprocessing_context=context if workers else None)))
    main = read(0)
    for workers, context in [(2, None), (1, "spawn")]:  # the platform's default (fork on Linux) and spawn
        other = read(workers, context)
        assert len(other) == len(main) == 3
        for (x, y), (x2, y2) in zip(main, other):
            assert torch.equal(x, x2) and torch.equal(y, y2)
    assert not torch.equal(dataset[0][0], speed.EncodedImages(12, size=8, seed=4)[0][0])
    assert main[0][0].shape == (4, 3, 8, 8) and 0 <= main[0][0].min() and main[0][0].max() <= 1


def test_loader_throughput_counts_images_and_checks_its_arguments():
    dataset = speed.EncodedImages(16, size=8)
    timing = speed.loader_throughput(dataset, batch_size=4, num_workers=1, pin_memory=False, batches=3, repeats=2)
    assert timing.images == 12 and timing.images_per_s > 0 and timing.repeats == 2
    with pytest.raises(ValueError, match="batches=5 of 4 need 20 items; the data set has 16"):
        speed.loader_throughput(dataset, batch_size=4, num_workers=0, pin_memory=False, batches=5)
    with pytest.raises(ValueError, match="pin_memory=True.*cpu"):
        speed.loader_throughput(dataset, batch_size=4, num_workers=0, pin_memory=True, batches=1)


def test_batch_size_sweep_times_each_size():
    sweep = speed.batch_size_sweep(speed.small_cnn(4), lambda size: batch(size), [2, 8], steps=2, warmup=0,
                                   device="cpu", repeats=1)
    assert list(sweep) == [2, 8]
    assert [timing.images for timing in sweep.values()] == [4, 16]


def test_table_has_a_row_per_setting_and_ratio_one_for_each_plain_run(monkeypatch):
    monkeypatch.setitem(speed.TRAINING_SETTINGS, "torch.compile", {})  # compiling is tested above
    rows = speed.speed_table(TINY, "cpu")
    settings = [row["setting"] for row in rows]
    assert settings == ["plain (float32)", "bf16 autocast", "fp16 autocast + GradScaler", "channels-last",
                        "torch.compile", "DataLoader, 0 workers", "DataLoader, 1 worker",
                        "DataLoader, 1 worker + pinned memory", "batch size 2", "batch size 4"]
    by_name = {row["setting"]: row for row in rows}
    for plain in ("plain (float32)", "DataLoader, 0 workers", "batch size 4"):
        assert by_name[plain]["ratio"] == 1.0
    for row in rows:
        assert row["device"] == f"cpu ×{torch.get_num_threads()}"
        if row["images/s"] is None:
            assert row["note"].startswith("GPU only")
        else:
            low, high = row["spread"]
            assert row["images/s"] > 0 and low <= row["ratio"] <= high
    text = speed.format_table(rows)
    assert len(text.splitlines()) == len(rows) + 1 and "GPU only" in text


def test_table_rejects_unknown_groups():
    with pytest.raises(ValueError, match="groups=\\['speed'\\] unknown"):
        speed.speed_table(TINY, "cpu", groups=("speed",))


def test_profiles_size_the_table():
    quick, full = speed.for_profile("quick", "cpu"), speed.for_profile("full", "cuda")
    assert speed.for_profile("full", "cpu") == quick  # full sizes would take minutes on a CPU
    assert full.batch_size > quick.batch_size and full.steps > quick.steps
    assert quick.batch_size * quick.loader_batches <= quick.loader_items
    assert full.batch_size * full.loader_batches <= full.loader_items
