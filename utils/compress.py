"""Smaller and faster networks after training: pruning, dynamic quantisation, knowledge distillation.

Introduced in chapter 15 (efficient and modern training).

- Magnitude pruning: the weights closest to zero matter least, so set them to zero
  (``prune_by_magnitude``, with ``torch.nn.utils.prune``), either the smallest across the whole
  network (``scope="global"``) or the same share in every layer (``"layer"``); ``sparsity`` says the
  share reached and ``prune_sweep`` measures accuracy against sparsity. Zeros alone save nothing: a
  dense tensor full of zeros takes as much memory and time; the savings need sparse storage or
  sparse kernels, or pruning whole channels.
- Dynamic quantisation (``quantize_linear_layers``): Linear weights stored as 8-bit integers with
  one scale each (4× smaller), activations quantised on the fly, batch by batch, from their own
  range. Convolutions are not converted this way: a convolution's cost is in its activations,
  which are large and reused across the image, and quantising them well needs their typical range
  measured beforehand on calibration data (static quantisation, with observers and a
  ``convert`` step). ``model_size_bytes`` and ``cpu_latency`` measure before and after.
- Knowledge distillation (Hinton, Vinyals and Dean, 2015): a small student learns from a large
  teacher's softened outputs as well as from the labels (``distillation_loss``, ``distill``).
"""
from __future__ import annotations

import copy
import io
import statistics
import time
import warnings

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import prune

from utils.training import evaluate

__all__ = ["PRUNABLE", "cpu_latency", "distill", "distillation_loss", "model_size_bytes", "prunable_weights",
           "prune_by_magnitude", "prune_sweep", "quantize_linear_layers", "sparsity"]

PRUNABLE = (nn.Linear, nn.Conv2d)  # the layers whose weights pruning zeroes (biases and norms are kept)


def prunable_weights(model: nn.Module) -> list[tuple[nn.Module, str]]:
    """Every (layer, "weight") pair of the model's Linear and Conv2d layers (chapter 15)."""
    return [(module, "weight") for module in model.modules() if isinstance(module, PRUNABLE)]


def sparsity(model: nn.Module) -> float:
    """The share of the Linear and Conv2d weights that are exactly zero, 0 to 1 (chapter 15).

    Reads the weights the forward pass uses (weight_orig × mask while a pruning mask is attached).
    """
    weights = [getattr(module, name) for module, name in prunable_weights(model)]
    if not weights:
        raise ValueError(f"{type(model).__name__} has no Linear or Conv2d layers: there are no weights to prune")
    return sum(int((w == 0).sum()) for w in weights) / sum(w.numel() for w in weights)


def prune_by_magnitude(model: nn.Module, amount: float, *, scope: str = "global", permanent: bool = True) -> float:
    """Zero the ``amount`` (0 to 1) of Linear and Conv2d weights with the smallest |w|, in place.

    ``scope="global"`` ranks all those weights together (layers with many small weights lose more);
    ``"layer"`` removes the same share from each layer. ``permanent=True`` calls ``prune.remove``,
    so the zeros are written into ``weight`` and the masks are gone; ``False`` keeps
    ``weight_orig`` and ``weight_mask`` (the zeros then survive training steps too). Pruning twice
    prunes the remaining weights again. Returns the sparsity reached. Introduced in chapter 15.
    """
    if not isinstance(amount, (int, float)) or not 0 <= amount < 1:
        raise ValueError(f"amount={amount!r}: the share of weights to zero, from 0 up to (not including) 1")
    if scope not in ("global", "layer"):
        raise ValueError(f"scope={scope!r}: choose 'global' (smallest weights of the whole network) or 'layer' "
                         "(the same share in every layer)")
    weights = prunable_weights(model)
    if not weights:
        raise ValueError(f"{type(model).__name__} has no Linear or Conv2d layers: there are no weights to prune")
    if scope == "global":
        prune.global_unstructured(weights, pruning_method=prune.L1Unstructured, amount=float(amount))
    else:
        for module, name in weights:
            prune.l1_unstructured(module, name, amount=float(amount))
    if permanent:
        for module, name in weights:
            prune.remove(module, name)
    return sparsity(model)


def prune_sweep(model: nn.Module, loader, sparsities, *, scope: str = "global") -> list[dict]:
    """Accuracy on ``loader`` of a pruned copy of ``model`` at each asked sparsity (chapter 15).

    ``model`` itself is left as it is. Returns one row per sparsity:
    ``{"asked": s, "reached": sparsity actually reached, "accuracy": ...}``.
    """
    rows = []
    for asked in sparsities:
        pruned = copy.deepcopy(model)
        reached = prune_by_magnitude(pruned, asked, scope=scope)
        rows.append({"asked": asked, "reached": reached, "accuracy": evaluate(pruned, loader)["metric"]})
    return rows


def quantize_linear_layers(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with every Linear layer dynamically quantised to 8 bits, in eval mode.

    Uses ``torch.ao.quantization.quantize_dynamic`` (CPU only). PyTorch 2.14 marks torch.ao's
    quantisation deprecated in favour of the separate ``torchao`` package; it still works, and
    this function silences that notice. Convolutions stay in float32 (see the module's
    docstring). Introduced in chapter 15.
    """
    if not any(isinstance(module, nn.Linear) for module in model.modules()):
        raise ValueError(f"{type(model).__name__} has no Linear layers, so dynamic quantisation would change "
                         "nothing: it converts Linear (and recurrent) layers only; convolutions need static "
                         "quantisation with calibration data")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*torch\.ao\.quantization is deprecated")
        warnings.filterwarnings("ignore", message=r".*quantized tensor creation functions.*deprecated")
        return torch.ao.quantization.quantize_dynamic(copy.deepcopy(model).cpu().eval(), {nn.Linear},
                                                      dtype=torch.qint8)


def model_size_bytes(model: nn.Module) -> int:
    """The size of ``torch.save(model.state_dict())`` in bytes: what a checkpoint takes (chapter 15)."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getbuffer().nbytes


def cpu_latency(model: nn.Module, example: torch.Tensor, repeats: int = 50, *, warmup: int = 5) -> float:
    """The median time of one forward pass on ``example`` on the CPU, in milliseconds (chapter 15).

    Runs in eval mode under ``torch.inference_mode()``; the first ``warmup`` calls (memory being
    allocated, kernels chosen) are not counted; the median ignores the odd call slowed by another
    process. The model's train/eval mode is restored afterwards. The thread count is whatever
    ``torch.get_num_threads()`` is: set it before comparing two models.
    """
    if not isinstance(repeats, int) or repeats < 1 or not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"repeats={repeats!r}, warmup={warmup!r}: give whole numbers, repeats at least 1")
    if example.device.type != "cpu" or any(p.device.type != "cpu" for p in model.parameters()):
        raise ValueError("cpu_latency times the CPU: move the model and the example there first (.cpu())")
    training = model.training
    model.eval()
    times = []
    try:
        with torch.inference_mode():
            for call in range(warmup + repeats):
                began = time.perf_counter()
                model(example)
                if call >= warmup:
                    times.append(time.perf_counter() - began)
    finally:
        model.train(training)
    return 1000 * statistics.median(times)


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, targets: torch.Tensor, *,
                      T: float = 4.0, alpha: float = 0.9) -> torch.Tensor:
    """Hinton's loss: α · T² · KL(teacher ‖ student at temperature T) + (1 − α) · cross-entropy.

    At temperature T both sets of logits are divided by T before the softmax, which spreads the
    teacher's probabilities over the wrong classes too (which ones look alike: its "dark
    knowledge"). The softened gradients are 1/T² as large, so the KL term is multiplied by T² to
    keep its weight as T changes. ``alpha=0`` is plain cross-entropy on the labels, ``alpha=1``
    the teacher alone. The teacher's logits are detached: only the student learns. The KL term is
    averaged over the batch (``reduction="batchmean"``), as cross-entropy is. Introduced in chapter 15.
    """
    if not T > 0:
        raise ValueError(f"T={T!r}: the temperature divides the logits, so it must be positive (1 = no softening)")
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha={alpha!r}: the weight of the teacher's term, from 0 (labels only) to 1 "
                         "(teacher only)")
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(f"student logits {tuple(student_logits.shape)} and teacher logits "
                         f"{tuple(teacher_logits.shape)}: both must be [batch, classes] for the same classes")
    soft = F.kl_div(F.log_softmax(student_logits / T, dim=1), F.log_softmax(teacher_logits.detach() / T, dim=1),
                    reduction="batchmean", log_target=True)
    return alpha * T * T * soft + (1 - alpha) * F.cross_entropy(student_logits, targets)


def distill(student: nn.Module, teacher: nn.Module, train_loader, *, epochs: int, optimizer, scheduler=None,
            T: float = 4.0, alpha: float = 0.9) -> list[float]:
    """Train ``student`` on ``distillation_loss`` against ``teacher``'s outputs; returns each epoch's mean loss.

    The teacher runs in eval mode without gradients (its weights and batch-norm statistics stay as
    they are); the student trains as ``fit()`` would train it: zero_grad → forward → loss →
    backward → step, and ``scheduler`` (if any) steps once per epoch, so a comparison with a
    student trained by ``fit()`` can use the same schedule. Measure it afterwards with ``evaluate(student, test_loader)``. Introduced in
    chapter 15.
    """
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs={epochs!r}: give a whole number of epochs, at least 1")
    device = next(student.parameters()).device
    teacher_mode = teacher.training
    teacher.eval()
    student.train()
    losses = []
    try:
        for _ in range(epochs):
            total, count = 0.0, 0
            for inputs, targets in train_loader:
                inputs, targets = inputs.to(device), targets.to(device)
                with torch.no_grad():
                    teacher_logits = teacher(inputs)
                optimizer.zero_grad(set_to_none=True)
                loss = distillation_loss(student(inputs), teacher_logits, targets, T=T, alpha=alpha)
                loss.backward()
                optimizer.step()
                total += float(loss.detach()) * len(targets)
                count += len(targets)
            losses.append(total / count)
            if scheduler is not None:
                scheduler.step()
    finally:
        teacher.train(teacher_mode)
    return losses
