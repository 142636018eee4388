"""utils/compress.py: magnitude pruning reaches its sparsity and its zeros stay, dynamic quantisation makes a
smaller model with close outputs, size and latency are measured, and the distillation loss is Hinton's (chapter 15)."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from utils.compress import (cpu_latency, distill, distillation_loss, model_size_bytes, prunable_weights,
                            prune_by_magnitude, prune_sweep, quantize_linear_layers, sparsity)
from utils.training import evaluate


def small_cnn():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 6 * 6, 32), nn.ReLU(),
                         nn.Linear(32, 10))


def mlp(width=256):
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(64, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, 10))


def weights(model):
    return [module.weight.detach().clone() for module, _ in prunable_weights(model)]


@pytest.mark.parametrize("scope", ["global", "layer"])
def test_pruning_reaches_the_asked_sparsity_and_its_zeros_stay_after_prune_remove(scope):
    model = small_cnn()
    reached = prune_by_magnitude(model, 0.6, scope=scope, permanent=False)
    assert reached == pytest.approx(0.6, abs=1e-3) and sparsity(model) == reached
    if scope == "layer":
        assert all((w == 0).float().mean() == pytest.approx(0.6, abs=0.01) for w in weights(model))
    masked = [w == 0 for w in weights(model)]
    for module, name in prunable_weights(model):
        torch.nn.utils.prune.remove(module, name)
    assert not any(n.endswith(("_orig", "_mask")) for n, _ in model.named_parameters())
    assert all(((w == 0) == zeros).all() for w, zeros in zip(weights(model), masked))


def test_global_pruning_removes_the_smallest_weights_of_the_whole_network():
    model, before = small_cnn(), weights(small_cnn())
    prune_by_magnitude(model, 0.5)
    pruned = torch.cat([b[a == 0] for a, b in zip(weights(model), before)]).abs()
    kept = torch.cat([b[a != 0] for a, b in zip(weights(model), before)]).abs()
    assert pruned.max() <= kept.min()
    assert not any(hasattr(module, "weight_mask") for module, _ in prunable_weights(model))


def test_pruning_with_its_mask_kept_keeps_the_zeros_through_training():
    model = small_cnn()
    prune_by_magnitude(model, 0.5, permanent=False)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model(torch.randn(4, 3, 8, 8)).sum().backward()
    optimizer.step()
    assert sparsity(model) == pytest.approx(0.5, abs=1e-3)


def test_bad_pruning_requests_are_refused_with_the_reason():
    with pytest.raises(ValueError, match="up to"):
        prune_by_magnitude(small_cnn(), 1.0)
    with pytest.raises(ValueError, match="'global'"):
        prune_by_magnitude(small_cnn(), 0.5, scope="row")
    with pytest.raises(ValueError, match="no Linear or Conv2d"):
        sparsity(nn.Sequential(nn.ReLU()))


def test_prune_sweep_prunes_copies_and_accuracy_at_zero_is_the_model_s_own():
    model = small_cnn()
    images, labels = torch.randn(64, 3, 8, 8), torch.arange(64) % 10
    loader = DataLoader(TensorDataset(images, labels), batch_size=32)
    before = weights(model)
    rows = prune_sweep(model, loader, [0.0, 0.5, 0.9])
    assert all((a == b).all() for a, b in zip(weights(model), before))
    assert [round(row["reached"], 2) for row in rows] == [0.0, 0.5, 0.9]
    assert rows[0]["accuracy"] == evaluate(model, loader)["metric"]


def test_dynamic_quantisation_makes_linear_layers_smaller_with_close_outputs():
    model = mlp().eval()
    quantised = quantize_linear_layers(model)
    assert all(type(m) is nn.Linear for m in model if not isinstance(m, nn.ReLU))  # the original is untouched
    assert sum(isinstance(m, torch.ao.nn.quantized.dynamic.Linear) for m in quantised.modules()) == 3
    assert model_size_bytes(quantised) < 0.35 * model_size_bytes(model)
    x = torch.randn(16, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected, got = model(x), quantised(x)
    assert (got - expected).abs().max() < 0.05 * expected.abs().max()
    assert (got.argmax(1) == expected.argmax(1)).float().mean() >= 0.9
    with pytest.raises(ValueError, match="static"):
        quantize_linear_layers(nn.Sequential(nn.Conv2d(3, 4, 3)))


def test_model_size_is_the_saved_state_dict_and_grows_with_the_parameters(tmp_path):
    model = mlp()
    torch.save(model.state_dict(), tmp_path / "model.pt")
    # the same archive; only the name of its top folder (the file's stem, here "model") differs
    assert abs(model_size_bytes(model) - (tmp_path / "model.pt").stat().st_size) < 100
    assert model_size_bytes(mlp(512)) - model_size_bytes(model) > 4 * (sum(p.numel() for p in mlp(512).parameters())
                                                                       - sum(p.numel() for p in model.parameters())) * 0.99


def test_cpu_latency_is_a_positive_median_and_restores_the_mode():
    model = mlp().train()
    milliseconds = cpu_latency(model, torch.randn(8, 64), repeats=5, warmup=1)
    assert 0 < milliseconds < 1000 and model.training
    with pytest.raises(ValueError, match="repeats"):
        cpu_latency(model, torch.randn(8, 64), repeats=0)


def test_distillation_loss_with_alpha_0_is_cross_entropy_and_with_alpha_1_is_t_squared_kl():
    student, teacher = torch.randn(2, 6, 10, generator=torch.Generator().manual_seed(0)).unbind(0)
    targets = torch.tensor([0, 3, 9, 1, 1, 2])
    torch.testing.assert_close(distillation_loss(student, teacher, targets, alpha=0.0),
                               F.cross_entropy(student, targets))
    p_teacher = (teacher / 3).softmax(1)
    kl = (p_teacher * (p_teacher.log() - (student / 3).log_softmax(1))).sum(1).mean()
    torch.testing.assert_close(distillation_loss(student, teacher, targets, T=3, alpha=1.0), 9 * kl)
    assert distillation_loss(student, student, targets, T=3, alpha=1.0).abs() < 1e-6
    with pytest.raises(ValueError, match="positive"):
        distillation_loss(student, teacher, targets, T=0)


def test_distillation_gradient_at_t_1_is_the_hand_computed_one():
    student = torch.randn(4, 5, generator=torch.Generator().manual_seed(1)).requires_grad_()
    teacher = torch.randn(4, 5, generator=torch.Generator().manual_seed(2)).requires_grad_()
    targets = torch.tensor([1, 0, 4, 2])
    distillation_loss(student, teacher, targets, T=1.0, alpha=0.3).backward()
    p_student, p_teacher = student.softmax(1).detach(), teacher.softmax(1).detach()
    by_hand = (0.3 * (p_student - p_teacher) + 0.7 * (p_student - F.one_hot(targets, 5))) / len(targets)
    torch.testing.assert_close(student.grad, by_hand)
    assert teacher.grad is None  # only the student learns


def test_distill_trains_the_student_and_leaves_the_teacher_alone():
    torch.manual_seed(0)
    inputs = torch.randn(128, 64)
    teacher = mlp(64).eval()
    labels = teacher(inputs).argmax(1).detach()
    loader = DataLoader(TensorDataset(inputs, labels), batch_size=32, shuffle=False)
    student = nn.Linear(64, 10)
    before = [p.clone() for p in teacher.parameters()]
    losses = distill(student, teacher, loader, epochs=5, optimizer=torch.optim.Adam(student.parameters(), 1e-2))
    assert len(losses) == 5 and losses[-1] < 0.7 * losses[0]
    assert all((a == b).all() for a, b in zip(before, teacher.parameters())) and not teacher.training
    with pytest.raises(ValueError, match="epochs"):
        distill(student, teacher, loader, epochs=0, optimizer=torch.optim.Adam(student.parameters()))


def test_distill_steps_the_scheduler_once_per_epoch():
    teacher, student = mlp(64).eval(), nn.Linear(64, 10)
    loader = DataLoader(TensorDataset(torch.randn(64, 64), torch.arange(64) % 10), batch_size=32)
    optimizer = torch.optim.SGD(student.parameters(), lr=1.0)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    distill(student, teacher, loader, epochs=3, optimizer=optimizer, scheduler=scheduler)
    assert optimizer.param_groups[0]["lr"] == 0.125
