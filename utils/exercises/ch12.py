"""Chapter 12 (adversarial examples) exercises: FGSM written by hand, a targeted PGD attack with its
projection onto the ε-ball, and a budget ε converted from 0–255 grey levels to [0, 1] pixels and to
the units of a normalised tensor."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from utils.exercises import Case, Mistake, Question, as_number, as_tensor, forbidding, function_checker, parts, require

CHAPTER = "12"

ATTACKS = forbidding("torchattacks", ["torchattacks.FGSM", "torchattacks.PGD", "torchattacks.BIM",
                                      "torchattacks.PGDL2", "torchattacks.FFGSM"],
                     why="runs a ready-made attack for you", why_zh="它替你运行了一个现成的攻击")


def _model(seed: int, side: int, classes: int) -> nn.Module:
    """A small fixed classifier of 1 × side × side images, built without moving the learner's random numbers."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = nn.Sequential(nn.Flatten(), nn.Linear(side * side, 12), nn.Tanh(), nn.Linear(12, classes))
    return model.eval()


def _images(seed: int, n: int, side: int) -> torch.Tensor:
    """Images in [0, 1] with blank (0) and full-ink (1) pixels, where the clip to the image range matters."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, side, side, generator=generator)
    return torch.where(x < 0.3, torch.zeros_like(x), torch.where(x > 0.8, torch.ones_like(x), x))


def _labels(seed: int, n: int, classes: int) -> torch.Tensor:
    return torch.randint(0, classes, (n,), generator=torch.Generator().manual_seed(seed + 100))


def _input_gradient(model, x, y):
    x = x.clone().requires_grad_(True)
    gradient, = torch.autograd.grad(F.cross_entropy(model(x), y), x)
    return gradient


def _adversarial(name):
    def convert(out, answer_name):
        out = as_tensor(out, answer_name, floating=True, what="the adversarial images", what_zh="对抗图像")
        require(not out.requires_grad,
                f"{answer_name} returns images still attached to the autograd graph (requires_grad=True): return "
                "them with .detach(), and detach between steps, or each backward pass runs back through every "
                "earlier step",
                zh=f"{answer_name} 返回的图像仍连在自动求导的计算图上（requires_grad=True）：用 .detach() 返回，"
                   "并在每步之间 detach，否则每次反向传播都要穿过之前的所有步骤")
        return out
    return convert


# q1 · FGSM by hand ------------------------------------------------------------------------------

def _fgsm(model, x, y, eps):
    x = x.clone().requires_grad_(True)
    gradient, = torch.autograd.grad(F.cross_entropy(model(x), y), x)
    return (x + eps * gradient.sign()).clamp(0, 1).detach()


def _wrong_fgsm(*, step="sign", direction=1, clip=True, scale=1.0, labels="true", perturbation=False):
    """FGSM with one mistake switched on."""
    def attack(model, x, y, eps):
        if labels == "predicted":
            with torch.no_grad():
                y = model(x).argmax(1)
        gradient = _input_gradient(model, x, y)
        if step == "sign":
            delta = gradient.sign()
        elif step == "raw":
            delta = gradient
        else:  # an L2-normalised step, per image
            delta = gradient / gradient.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1, 1)
        delta = direction * eps * scale * delta
        if perturbation:
            return delta.detach()
        out = x + delta
        return (out.clamp(0, 1) if clip else out).detach()
    return attack


def _fgsm_case(seed, n, side, classes, eps, *, hidden=False, note="", note_zh=""):
    return Case(_model(seed, side, classes), _images(seed, n, side), _labels(seed, n, classes), eps,
                hidden=hidden, note=note, note_zh=note_zh)


q1 = Question("q1", "FGSM by hand", chapter=CHAPTER, checker=function_checker(
    "fgsm_attack", _fgsm, convert=_adversarial("fgsm_attack"), forbid=ATTACKS,
    cases=[_fgsm_case(1, 6, 4, 3, 0.1, note="a small budget", note_zh="较小的预算"),
           _fgsm_case(2, 5, 5, 4, 0.25, note="a larger budget: the clip to [0, 1] matters",
                      note_zh="较大的预算：裁剪到 [0, 1] 很重要"),
           _fgsm_case(3, 8, 3, 5, 0.05, note="five classes", note_zh="五个类别"),
           _fgsm_case(4, 7, 4, 4, 0.15, hidden=True)],
    mistakes=[
        Mistake(_wrong_fgsm(step="raw"),
                "you stepped along the gradient itself: FGSM takes its sign, so that every pixel moves by the "
                "full ε, the largest step the L∞ ball allows",
                "你沿梯度本身走了一步：FGSM 取的是梯度的符号，这样每个像素都移动满 ε，这是 L∞ 球允许的最大一步"),
        Mistake(_wrong_fgsm(direction=-1),
                "you stepped against the gradient, lowering the loss: that helps the model. An attack raises the "
                "loss, so add ε · sign(gradient)",
                "你逆着梯度走了一步，降低了损失：这是在帮模型。攻击要提高损失，所以应加上 ε · sign(梯度)"),
        Mistake(_wrong_fgsm(clip=False),
                "some pixels leave the image range: clip the adversarial image to [0, 1], or it is not an image",
                "有些像素超出了图像的取值范围：把对抗图像裁剪到 [0, 1]，否则它就不是一张图像"),
        Mistake(_wrong_fgsm(scale=1 / 255),
                "your step is 255 times too small: eps is already in the units of [0, 1] images; do not divide it "
                "by 255 again",
                "你的步长小了 255 倍：eps 已经是 [0, 1] 图像的单位，不要再除以 255"),
        Mistake(_wrong_fgsm(labels="predicted"),
                "you attacked the model's own predictions, not the true labels y: where the model is already "
                "wrong, that pushes it towards its wrong answer instead of away from the right one",
                "你攻击的是模型自己的预测，而不是真实标签 y：在模型已经出错的地方，这会把它推向它的错误答案，"
                "而不是推离正确答案"),
        Mistake(_wrong_fgsm(step="l2"),
                "you normalised the gradient by its L2 norm: that is the L2 attack (FGM). Under the L∞ budget each "
                "pixel moves by ε in the direction of its gradient's sign",
                "你用 L2 范数归一化了梯度：那是 L2 攻击（FGM）。在 L∞ 预算下，每个像素沿其梯度符号的方向移动 ε"),
        Mistake(_wrong_fgsm(perturbation=True),
                "you returned the perturbation δ, not the adversarial image: return x + δ, clipped to [0, 1]",
                "你返回的是扰动 δ，而不是对抗图像：应返回 x + δ，并裁剪到 [0, 1]"),
    ],
    note=("torchattacks.FGSM computes exactly this.", "torchattacks.FGSM 计算的正是这个。")),
    hint="Make a copy of x that requires a gradient, take the gradient of the cross-entropy with respect to it, "
         "and move every pixel by eps in the direction that raises the loss. Is the result still an image?",
    reference=_fgsm, title_zh="手写 FGSM",
    hint_zh="复制一份需要梯度的 x，对它求交叉熵的梯度，再把每个像素朝提高损失的方向移动 eps。结果还是一张图像吗？")


# q2 · a targeted PGD attack -----------------------------------------------------------------------

def _targeted_pgd(model, x, target, eps, alpha, steps):
    x_adv = x.clone()
    for _ in range(steps):
        x_adv.requires_grad_(True)
        gradient, = torch.autograd.grad(F.cross_entropy(model(x_adv), target), x_adv)
        x_adv = x_adv.detach() - alpha * gradient.sign()
        x_adv = (x + (x_adv - x).clamp(-eps, eps)).clamp(0, 1)
    return x_adv.detach()


def _wrong_pgd(*, direction=-1, ball=True, clip=True, extra_steps=0, step="sign", step_size="alpha"):
    """Targeted PGD with one mistake switched on."""
    def attack(model, x, target, eps, alpha, steps):
        x_adv = x.clone()
        for _ in range(steps + extra_steps):
            gradient = _input_gradient(model, x_adv, target)
            size = alpha if step_size == "alpha" else eps
            x_adv = x_adv + direction * size * (gradient.sign() if step == "sign" else gradient)
            if ball:
                x_adv = x + (x_adv - x).clamp(-eps, eps)
            if clip:
                x_adv = x_adv.clamp(0, 1)
        return x_adv.detach()
    return attack


def _pgd_case(seed, n, side, classes, eps, alpha, steps, *, hidden=False, note="", note_zh=""):
    return Case(_model(seed, side, classes), _images(seed, n, side), _labels(seed + 7, n, classes), eps, alpha,
                steps, hidden=hidden, note=note, note_zh=note_zh)


q2 = Question("q2", "a targeted PGD attack", chapter=CHAPTER, checker=function_checker(
    "targeted_pgd", _targeted_pgd, convert=_adversarial("targeted_pgd"), forbid=ATTACKS,
    cases=[_pgd_case(11, 6, 4, 3, 0.2, 0.05, 5, note="steps that can reach the edge of the ball",
                     note_zh="步数足以走到球的边缘"),
           _pgd_case(12, 5, 5, 4, 0.1, 0.04, 6, note="more steps than the ball needs: the projection matters",
                     note_zh="步数超过走到球边所需：投影很重要"),
           _pgd_case(13, 4, 3, 5, 0.3, 0.1, 2, note="two steps", note_zh="两步"),
           _pgd_case(14, 7, 4, 4, 0.15, 0.03, 7, hidden=True)],
    mistakes=[
        Mistake(_wrong_pgd(direction=1),
                "your steps raise the loss of the target class, which pushes the images away from it: a targeted "
                "attack descends the target's loss, x − α · sign(gradient)",
                "你的每一步都提高了目标类别的损失，把图像推离了目标：定向攻击要降低目标类别的损失，x − α · sign(梯度)"),
        Mistake(_wrong_pgd(ball=False),
                "the images leave the ε-ball: after each step, clip the total change x_adv − x to [−ε, ε], measured "
                "from the original image x, not from the previous step",
                "图像离开了 ε 球：每一步之后，都要把总变化量 x_adv − x 裁剪到 [−ε, ε]，从原始图像 x 算起，而不是从上一步算起"),
        Mistake(_wrong_pgd(clip=False),
                "some pixels leave the image range: after projecting onto the ε-ball, clip to [0, 1] as well",
                "有些像素超出了图像的取值范围：投影到 ε 球之后，还要裁剪到 [0, 1]"),
        Mistake(_wrong_pgd(extra_steps=-1),
                "you took one step too few: the loop should run exactly `steps` times",
                "你少走了一步：循环应当恰好运行 steps 次"),
        Mistake(_wrong_pgd(extra_steps=1),
                "you took one step too many: the loop should run exactly `steps` times",
                "你多走了一步：循环应当恰好运行 steps 次"),
        Mistake(_wrong_pgd(step="raw"),
                "you stepped along the gradient itself: PGD under an L∞ budget steps along its sign, α per pixel",
                "你沿梯度本身走了一步：L∞ 预算下的 PGD 沿梯度的符号走，每个像素 α"),
        Mistake(_wrong_pgd(step_size="eps"),
                "each of your steps has size ε: the step size is alpha; ε only bounds the total change",
                "你每一步的步长都是 ε：步长应是 alpha；ε 只限制总的变化量"),
    ],
    note=("torchattacks.PGD with random_start=False and set_mode_targeted_by_label() computes exactly this.",
          "torchattacks.PGD 在 random_start=False 并调用 set_mode_targeted_by_label() 时计算的正是这个。")),
    hint="Start from a copy of x. At each step take the gradient of the cross-entropy with respect to the target "
         "labels; which way lowers it? Then bring the change back within ε of the original x, and the pixels "
         "back into the image range.",
    reference=_targeted_pgd, title_zh="定向 PGD 攻击",
    hint_zh="从 x 的副本出发。每一步对以目标标签计算的交叉熵求梯度；朝哪个方向走能降低它？然后把变化量拉回到离原始 x 不超过 ε 的范围内，"
            "再把像素拉回图像的取值范围。")


# q3 · ε in three units -------------------------------------------------------------------------------

def _epsilon_units(eps_255, mean, std):
    eps_pixels = eps_255 / 255
    return eps_pixels, eps_pixels / torch.as_tensor(std, dtype=torch.float32)


def _wrong_units(*, levels=255, per_channel="divide", subtract_mean=False, normalise_from_255=False,
                 average_std=False):
    """The conversion with one mistake switched on."""
    def convert(eps_255, mean, std):
        eps_pixels = eps_255 / levels if levels else float(eps_255)
        std_t = torch.as_tensor(std, dtype=torch.float32)
        if average_std:
            std_t = std_t.mean().expand(len(std_t))
        base = float(eps_255) if normalise_from_255 else eps_pixels
        if subtract_mean:
            normalised = (base - torch.as_tensor(mean, dtype=torch.float32)) / std_t
        elif per_channel == "multiply":
            normalised = base * std_t
        elif per_channel == "variance":
            normalised = base / std_t ** 2
        else:
            normalised = base / std_t
        return eps_pixels, normalised
    return convert


def _budgets(out, name):
    eps_pixels, eps_normalised = parts(out, 2, name, "(eps_pixels, eps_normalised)", "(eps_pixels, eps_normalised)",
                                       tensors=False)
    eps_pixels = as_number(eps_pixels, name, what="eps_pixels, the budget in [0, 1] pixel units",
                           what_zh="eps_pixels（以 [0, 1] 像素为单位的预算）")
    eps_normalised = as_tensor(eps_normalised, name, floating=True, what="eps_normalised, one number per channel",
                               what_zh="eps_normalised（每个通道一个数）")
    require(eps_normalised.ndim == 1,
            f"eps_normalised should be one number per channel, a 1-D tensor; {name} returned shape "
            f"{tuple(eps_normalised.shape)}",
            zh=f"eps_normalised 应当是每个通道一个数，即一维张量；{name} 返回的形状是 {tuple(eps_normalised.shape)}")
    return eps_pixels, eps_normalised


def _random_statistics(seed, channels):
    generator = torch.Generator().manual_seed(seed)
    mean = (0.3 + 0.4 * torch.rand(channels, generator=generator)).tolist()
    std = (0.15 + 0.2 * torch.rand(channels, generator=generator)).tolist()
    return tuple(round(m, 3) for m in mean), tuple(round(s, 3) for s in std)


q3 = Question("q3", "ε in three units", chapter=CHAPTER, checker=function_checker(
    "epsilon_units", _epsilon_units, convert=_budgets,
    cases=[Case(8, (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616), note="CIFAR-10's statistics",
                note_zh="CIFAR-10 的统计量"),
           Case(4, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), note="ImageNet's statistics",
                note_zh="ImageNet 的统计量"),
           Case(16, *_random_statistics(21, 3), note="seeded random statistics", note_zh="随机生成（固定种子）的统计量"),
           Case(2, *_random_statistics(22, 1), note="one channel", note_zh="单通道"),
           Case(6, *_random_statistics(23, 3), hidden=True)],
    mistakes=[
        Mistake(_wrong_units(levels=None),
                "eps_pixels is still in grey levels: a [0, 1] image holds a 0–255 level divided by 255",
                "eps_pixels 仍以灰度级为单位：[0, 1] 图像存放的是 0–255 的灰度级除以 255"),
        Mistake(_wrong_units(levels=256),
                "there are 256 grey levels but the largest is 255, and [0, 1] images divide by 255",
                "灰度级共有 256 个，但最大的是 255，[0, 1] 图像是除以 255 得到的"),
        Mistake(_wrong_units(per_channel="multiply"),
                "you multiplied by std: normalisation divides by std, so a distance of ε pixels becomes ε / std "
                "in normalised units",
                "你乘了 std：归一化是除以 std，所以 ε 个像素的距离在归一化单位中是 ε / std"),
        Mistake(_wrong_units(subtract_mean=True),
                "you subtracted the mean: ε is a distance between two images, not a pixel value, and the mean "
                "cancels in the difference (x + δ − μ)/σ − (x − μ)/σ",
                "你减去了均值：ε 是两张图像之间的距离，而不是像素值，均值在差 (x + δ − μ)/σ − (x − μ)/σ 中抵消了"),
        Mistake(_wrong_units(per_channel="variance"),
                "you divided by std squared: normalisation divides by the standard deviation, not the variance",
                "你除以了 std 的平方：归一化除以的是标准差，而不是方差"),
        Mistake(_wrong_units(normalise_from_255=True),
                "eps_normalised is 255 times too large: convert the grey levels to [0, 1] units first, then divide "
                "by std",
                "eps_normalised 大了 255 倍：先把灰度级换算成 [0, 1] 单位，再除以 std"),
        Mistake(_wrong_units(average_std=True),
                "every channel got the same budget: each channel has its own std, so each gets its own ε / std",
                "每个通道都得到了同样的预算：每个通道有自己的 std，所以各有各的 ε / std"),
    ],
    note=("An attack on the normalised tensor needs these per-channel budgets; torchattacks' "
          "set_normalization_used(mean, std) lets you keep ε in pixel units instead.",
          "直接攻击归一化后的张量需要这些逐通道的预算；torchattacks 的 set_normalization_used(mean, std) "
          "则让你保持以像素为单位的 ε。")),
    hint="Two conversions in a row: grey levels to [0, 1] pixels (what is the largest grey level?), then pixels to "
         "normalised units. Write the normalised difference of x + δ and x: what is left of mean and std?",
    reference=_epsilon_units, title_zh="三种单位下的 ε",
    hint_zh="连续两次换算：灰度级换成 [0, 1] 像素（最大的灰度级是多少？），再把像素换成归一化单位。"
            "写出 x + δ 与 x 归一化后的差：mean 和 std 还剩下什么？")
