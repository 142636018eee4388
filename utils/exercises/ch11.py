"""Chapter 11 (image classification in practice) exercises: a horizontal flip that keeps keypoint labels
valid, mixup from scratch with a given partner for each image, and the epoch at which early stopping
ends a run (and the epoch whose weights it restores)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from utils.exercises import Case, Mistake, Question, as_number, as_tensor, forbidding, function_checker, parts, require

CHAPTER = "11"


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# q1 · a horizontal flip that keeps the keypoints valid ----------------------------------------------

def _flip_with_keypoints(image, keypoints, pairs):
    width = image.shape[-1]
    flipped = image.flip(-1)
    points = keypoints.clone()
    points[:, 0] = width - 1 - keypoints[:, 0]  # column j goes to column W − 1 − j
    for left, right in pairs:  # the left eye is now on the right: swap the roles
        points[[left, right]] = points[[right, left]]
    return flipped, points


def _flip_mistake(*, image_dim=-1, flip_image=True, flip_points=True, offset=1, swap=True, use_height=False,
                  flip_y=False, mirror_at_zero=False):
    """The reference with one mistake switched on."""
    def answer(image, keypoints, pairs):
        size = image.shape[-2] if use_height else image.shape[-1]
        flipped = image.flip(image_dim) if flip_image else image.clone()
        points = keypoints.clone()
        axis = 1 if flip_y else 0
        if flip_points:
            points[:, axis] = -keypoints[:, axis] if mirror_at_zero else size - offset - keypoints[:, axis]
        if swap:
            for left, right in pairs:
                points[[left, right]] = points[[right, left]]
        return flipped, points
    return answer


FLIPS = forbidding("a ready-made flip", ["torchvision.transforms.v2.functional.horizontal_flip",
                                         "torchvision.transforms.v2.functional.hflip",
                                         "torchvision.transforms.functional.hflip",
                                         "torchvision.transforms.v2.RandomHorizontalFlip"],
                   why="flips the image (and, in torchvision, its keypoints) for you",
                   why_zh="它替你翻转了图像（在 torchvision 里还会翻转关键点）")


def _flipped(out, name):
    image, points = parts(out, 2, name, "(flipped_image, flipped_keypoints)", "(翻转后的图像, 翻转后的关键点)")
    as_tensor(points, name, floating=True, what="the keypoints", what_zh="关键点")
    return image, points


def _face(seed, channels, height, width, points, pairs, *, hidden=False, note="", note_zh=""):
    generator = _generator(seed)
    image = torch.rand(channels, height, width, generator=generator)
    xs = torch.randint(0, width, (points,), generator=generator).float()
    ys = torch.randint(0, height, (points,), generator=generator).float()
    keypoints = torch.stack([xs + 0.5 * (seed % 2), ys], dim=1)
    return Case(image, keypoints, pairs, hidden=hidden, note=note, note_zh=note_zh)


q1 = Question("q1", "a horizontal flip that keeps keypoints valid", chapter=CHAPTER, checker=function_checker(
    "flip_with_keypoints", _flip_with_keypoints, convert=_flipped, forbid=FLIPS,
    cases=[_face(1, 3, 6, 6, 3, [(0, 1)], note="a square image: left eye, right eye, nose",
                 note_zh="正方形图像：左眼、右眼、鼻子"),
           _face(2, 3, 4, 7, 5, [(0, 1), (3, 4)], note="wider than tall, two left/right pairs",
                 note_zh="宽大于高，两对左右关键点"),
           _face(3, 1, 8, 5, 4, [(1, 2)], note="taller than wide, one grey channel",
                 note_zh="高大于宽，单个灰度通道"),
           _face(4, 2, 5, 9, 2, [], note="no left/right pairs", note_zh="没有左右成对的关键点"),
           _face(5, 3, 7, 4, 6, [(0, 5), (1, 4)], hidden=True)],
    mistakes=[
        Mistake(_flip_mistake(swap=False),
                "the keypoints moved, but their names did not: after a flip the point labelled 'left eye' lies "
                "on the right of the face. Swap each (left, right) pair in `pairs`, or the label is no longer valid",
                "关键点移动了，但名字没有跟着换：翻转之后，标为“左眼”的点位于脸的右侧。请交换 `pairs` 中的每一对"
                "（左, 右），否则标签就不再正确"),
        Mistake(_flip_mistake(offset=0),
                "every keypoint ends one pixel too far right: the columns run from 0 to W − 1, so column x goes "
                "to W − 1 − x, not W − x",
                "每个关键点都向右偏了一个像素：列号从 0 到 W − 1，所以第 x 列翻转到 W − 1 − x，而不是 W − x"),
        Mistake(_flip_mistake(mirror_at_zero=True),
                "you negated x: that mirrors the points about the image's left edge, outside the image. Mirror "
                "them about its centre",
                "你把 x 取了相反数：这是关于图像左边缘的镜像，点跑到了图像外面。应关于图像中心做镜像"),
        Mistake(_flip_mistake(flip_y=True),
                "you changed the y coordinates: a horizontal flip mirrors left and right, so only x changes",
                "你改了 y 坐标：水平翻转是左右镜像，只有 x 会改变"),
        Mistake(_flip_mistake(image_dim=-2),
                "the image was flipped upside down: a horizontal flip reverses the last dimension, the columns "
                "(W), not the rows (H)",
                "图像被上下翻转了：水平翻转反转的是最后一个维度，即列（W），而不是行（H）"),
        Mistake(_flip_mistake(image_dim=0),
                "you reversed the channels (RGB became BGR) instead of the columns: the image is [C, H, W], and "
                "a horizontal flip reverses W",
                "你反转的是通道（RGB 变成了 BGR），而不是列：图像的形状是 [C, H, W]，水平翻转反转的是 W"),
        Mistake(_flip_mistake(flip_points=False, swap=False),
                "the image is flipped but the keypoints are not: every label now points at the wrong place",
                "图像翻转了，关键点却没有：现在每个标签都指向了错误的位置"),
        Mistake(_flip_mistake(flip_image=False),
                "the keypoints are flipped but the image is not: image and labels must go through the same "
                "transformation",
                "关键点翻转了，图像却没有：图像和标签必须经过同一个变换"),
        Mistake(_flip_mistake(use_height=True),
                "the keypoints are mirrored with the image's height: a horizontal flip mirrors x across the "
                "width W (image.shape[-1]); the two differ when the image is not square",
                "关键点是按图像的高度做的镜像：水平翻转是沿宽度 W（image.shape[-1]）对 x 做镜像；"
                "图像不是正方形时两者不同"),
    ],
    note=("torchvision's v2 transforms do this for you when the keypoints are wrapped as tv_tensors, but they "
          "cannot know which points swap names: that part is always yours.",
          "当关键点被包装成 tv_tensors 时，torchvision 的 v2 变换会替你做这件事，但它无法知道哪些点要交换名字："
          "这一部分总要你自己来做。")),
    hint="Reverse the image along its width. A point in column x lands in the column that is as far from the "
         "right edge as x was from the left one. And after the mirror, is the point called 'left eye' still on "
         "the face's left?",
    reference=_flip_with_keypoints, title_zh="保持关键点正确的水平翻转",
    hint_zh="沿宽度方向反转图像。第 x 列的点落到距右边缘的距离与原来距左边缘的距离相同的那一列。"
            "镜像之后，叫“左眼”的那个点还在脸的左边吗？")


# q2 · mixup from scratch, with a partner for each image ---------------------------------------------

def _mixup_batch(images, labels, partner, lam, num_classes):
    one_hot = F.one_hot(labels, num_classes).to(images.dtype)
    mixed_images = lam * images + (1 - lam) * images[partner]
    mixed_labels = lam * one_hot + (1 - lam) * one_hot[partner]
    return mixed_images, mixed_labels


def _mix(images, labels, own, other, partner_images, partner_labels):
    return own * images + other * partner_images, own * labels + other * partner_labels


def _mixup_mistake(*, label_weight=None, image_weight=None, partner="given", mix_labels=True, classes=None,
                   same_weight=False):
    def answer(images, labels, partner_index, lam, num_classes):
        index = {"given": partner_index, "inverse": torch.argsort(partner_index),
                 "rolled": torch.arange(len(labels)).roll(1)}[partner]
        one_hot = F.one_hot(labels, classes or num_classes).to(images.dtype)
        lam_images = lam if image_weight is None else image_weight(lam)
        lam_labels = lam if label_weight is None else label_weight(lam)
        other_images, other_labels = (lam_images, lam_labels) if same_weight else (1 - lam_images, 1 - lam_labels)
        mixed_images = lam_images * images + other_images * images[index]
        mixed_labels = lam_labels * one_hot + other_labels * one_hot[index] if mix_labels else one_hot
        return mixed_images, mixed_labels
    return answer


MIXUP = forbidding("a ready-made mixup", ["utils.augment.mixup", "torchvision.transforms.v2.MixUp",
                                          "torchvision.transforms.v2.CutMix"],
                   why="mixes the batch for you", why_zh="它替你混合了这一批数据")


def _mixed(out, name):
    images, labels = parts(out, 2, name, "(mixed_images, mixed_labels)", "(混合后的图像, 混合后的标签)")
    as_tensor(images, name, floating=True, what="the mixed images", what_zh="混合后的图像")
    require(labels.ndim == 2,
            f"{name} returned labels of shape {tuple(labels.shape)}, one number per image: class indices cannot be "
            "blended (a mix of class 1 and class 3 is not class 2). Mix one-hot rows instead, one column per class",
            zh=f"{name} 返回的标签形状是 {tuple(labels.shape)}，每张图像一个数：类别编号不能混合（类别 1 和类别 3 "
               "的混合并不是类别 2）。请混合独热编码的行，每个类别一列")
    as_tensor(labels, name, floating=True, what="the mixed labels", what_zh="混合后的标签")
    return images, labels


def _batch(seed, n, channels, size, classes, *, lam=None, hidden=False, note="", note_zh=""):
    generator = _generator(seed)
    images = torch.rand(n, channels, size, size, generator=generator)
    labels = torch.randint(0, classes - 1, (n,), generator=generator)  # the last class never appears
    partner = torch.randperm(n, generator=generator)
    while bool((partner == torch.arange(n)).any()) or bool((partner[partner] == torch.arange(n)).all()):
        partner = torch.randperm(n, generator=generator)  # no image its own partner; not a set of swaps
    lam = float(torch.rand((), generator=generator) * 0.5 + 0.05) if lam is None else lam
    return Case(images, labels, partner, lam, classes, hidden=hidden, note=note, note_zh=note_zh)


q2 = Question("q2", "mixup from scratch", chapter=CHAPTER, checker=function_checker(
    "mixup_batch", _mixup_batch, convert=_mixed, forbid=MIXUP,
    cases=[_batch(1, 4, 3, 2, 5, lam=0.25, note="λ = 0.25", note_zh="λ = 0.25"),
           _batch(2, 6, 1, 3, 4, note="one grey channel", note_zh="单个灰度通道"),
           _batch(3, 5, 3, 2, 10, note="ten classes", note_zh="十个类别"),
           _batch(4, 7, 2, 3, 6, hidden=True)],
    mistakes=[
        Mistake(_mixup_mistake(mix_labels=False),
                "the images are mixed but the labels are not: an image that is a quarter cat must be labelled a "
                "quarter cat, so mix the one-hot labels with the same λ",
                "图像混合了，标签却没有：四分之一是猫的图像，标签也必须是四分之一的猫，所以要用同一个 λ 混合独热标签"),
        Mistake(_mixup_mistake(label_weight=lambda lam: 1 - lam),
                "the labels are mixed with the weights the wrong way round: image i keeps λ of itself, so its "
                "label keeps λ of its own class and 1 − λ of its partner's",
                "标签的两个权重用反了：图像 i 保留 λ 份自己，所以它的标签保留 λ 份自己的类别、1 − λ 份搭档的类别"),
        Mistake(_mixup_mistake(image_weight=lambda lam: 1 - lam),
                "the images are mixed with the weights the wrong way round: image i is λ · x_i + (1 − λ) · "
                "x_partner, with λ on its own image",
                "图像的两个权重用反了：图像 i 是 λ · x_i + (1 − λ) · x_partner，λ 乘在它自己的图像上"),
        Mistake(_mixup_mistake(partner="inverse"),
                "each image was mixed with the image whose partner it is, not with its own partner: image i's "
                "partner is images[partner[i]]",
                "每张图像混合的是“把它当搭档的那张图像”，而不是它自己的搭档：图像 i 的搭档是 images[partner[i]]"),
        Mistake(_mixup_mistake(partner="rolled"),
                "each image was mixed with its neighbour in the batch, not with the partner it was given: use "
                "images[partner] and the labels of the same images",
                "每张图像混合的是批中相邻的图像，而不是给定的搭档：请使用 images[partner] 以及同一批图像的标签"),
        Mistake(_mixup_mistake(same_weight=True),
                "both terms got the weight λ, so the pixels and labels no longer add up to one image and one label: "
                "the partner's weight is 1 − λ",
                "两项的权重都是 λ，像素和标签加起来就不再是一张图像、一个标签了：搭档的权重是 1 − λ"),
        Mistake(_mixup_mistake(classes=-1),
                "the labels have too few columns: F.one_hot(labels) without num_classes makes only max(label) + 1 "
                "of them, and a batch need not hold the last class. Pass num_classes",
                "标签的列数太少：不给 num_classes 时，F.one_hot(labels) 只生成 max(label) + 1 列，而一批数据里"
                "不一定有最后一个类别。请传入 num_classes"),
    ],
    note=("Because cross-entropy is linear in its target, the loss on this soft label is λ times the loss on the "
          "image's own class plus 1 − λ times the loss on its partner's.",
          "由于交叉熵对目标是线性的，这个软标签上的损失等于 λ 乘以图像自己类别上的损失，加上 1 − λ "
          "乘以搭档类别上的损失。")),
    hint="Index the batch with `partner` to get each image's partner (and its label). Turn the labels into "
         "one-hot rows of num_classes columns first; then images and labels are blended with the same two weights.",
    reference=_mixup_batch, title_zh="从零实现 mixup",
    hint_zh="用 `partner` 对这一批数据做索引，得到每张图像的搭档（以及它的标签）。先把标签变成有 num_classes "
            "列的独热行；然后图像和标签用同样的两个权重混合。")


# q3 · when early stopping stops, and which epoch it restores -----------------------------------------

def _early_stopping(val_losses, patience):
    best = None
    for epoch, loss in enumerate(val_losses, start=1):
        if best is None or loss < val_losses[best - 1]:  # strictly better: a tie is no improvement
            best = epoch
        if epoch - best >= patience:
            return epoch, best
    return len(val_losses), best


def _stops_one_late(val_losses, patience):
    return _early_stopping(val_losses, patience + 1)


def _ties_improve(val_losses, patience):
    best = None
    for epoch, loss in enumerate(val_losses, start=1):
        if best is None or loss <= val_losses[best - 1]:
            best = epoch
        if epoch - best >= patience:
            return epoch, best
    return len(val_losses), best


def _counted_from_zero(val_losses, patience):
    stop, best = _early_stopping(val_losses, patience)
    return stop - 1, best - 1


def _against_previous(val_losses, patience):  # counts epochs worse than the one before, not than the best
    worse, best = 0, 1
    for epoch in range(2, len(val_losses) + 1):
        worse = worse + 1 if val_losses[epoch - 1] >= val_losses[epoch - 2] else 0
        if val_losses[epoch - 1] < val_losses[best - 1]:
            best = epoch
        if worse >= patience:
            return epoch, best
    return len(val_losses), best


def _uncapped(val_losses, patience):
    _, best = _early_stopping(val_losses, patience)
    return best + patience, best


def _never_stops(val_losses, patience):
    return len(val_losses), min(range(len(val_losses)), key=lambda i: val_losses[i]) + 1


def _returns_best_twice(val_losses, patience):
    _, best = _early_stopping(val_losses, patience)
    return best, best


def _epochs(out, name):
    stop, best = parts(out, 2, name, "(stop_epoch, best_epoch)", "(停止的轮次, 最好的轮次)", tensors=False)
    stop = as_number(stop, name, integer=True, what="the epoch training stops after", what_zh="训练停止的轮次")
    best = as_number(best, name, integer=True, what="the best epoch", what_zh="最好的轮次")
    require(best <= stop, f"{name} says the best epoch comes after the epoch training stopped: weights from an "
                          "epoch that was never trained cannot be restored. The best epoch is chosen among the "
                          "epochs trained, up to the stop, not among all the losses given",
            zh=f"{name} 给出的最好轮次在训练停止之后：从未训练过的轮次，其权重无法恢复。最好的轮次只在训练过的轮次"
               "（到停止为止）中选，而不是在给出的全部损失中选")
    return stop, best


def _losses(seed, epochs, *, hidden=False, note="", note_zh=""):
    """A noisy U-shaped validation curve, rounded so that ties happen."""
    generator = _generator(seed)
    t = torch.linspace(0, 1, epochs)
    turn = 0.3 + 0.3 * float(torch.rand((), generator=generator))
    curve = 1 + 2 * (t - turn) ** 2 + 0.05 * torch.randn(epochs, generator=generator)
    return [round(v, 2) for v in curve.tolist()]


q3 = Question("q3", "when early stopping stops", chapter=CHAPTER, checker=function_checker(
    "early_stopping", _early_stopping, convert=_epochs,
    cases=[Case([0.9, 0.7, 0.6, 0.65, 0.62, 0.61, 0.7, 0.5], 3, note="the loss rises after epoch 3",
                note_zh="第 3 轮之后损失上升"),
           Case([1.0, 0.8, 0.8, 0.9, 0.8, 0.95], 3, note="a tie with the best is no improvement",
                note_zh="与最好值持平不算改进"),
           Case([1.0, 0.9, 0.8, 0.7, 0.75, 0.72], 3, note="the run ends before patience runs out",
                note_zh="耐心值用完之前训练就结束了"),
           Case([0.5, 0.6, 0.4, 0.45, 0.3], 1, note="patience 1", note_zh="耐心值为 1"),
           Case(_losses(1, 20), 4, note="a noisy curve of 20 epochs", note_zh="20 轮的带噪声曲线"),
           Case(_losses(2, 30), 5, note="a noisy curve of 30 epochs", note_zh="30 轮的带噪声曲线"),
           Case(_losses(3, 25), 3, hidden=True)],
    mistakes=[
        Mistake(_stops_one_late,
                "training stops one epoch late: with patience p it stops after the p-th epoch without improvement, "
                "when epoch − best_epoch reaches p, not after p + 1",
                "训练晚停了一轮：耐心值为 p 时，在第 p 个没有改进的轮次之后就停止，即 epoch − best_epoch 达到 p 时，"
                "而不是 p + 1 时"),
        Mistake(_ties_improve,
                "a loss equal to the best counted as an improvement: fit() keeps the earliest of equal bests, so "
                "only a strictly lower loss resets the count",
                "与最好值相等的损失被算作了改进：fit() 在并列时保留最早的那一轮，所以只有严格更低的损失才会重新计数"),
        Mistake(_counted_from_zero,
                "your epochs are counted from 0: fit()'s history numbers them from 1, the first epoch is epoch 1",
                "你的轮次是从 0 开始数的：fit() 的历史记录从 1 开始编号，第一轮是第 1 轮"),
        Mistake(_against_previous,
                "you counted epochs that were worse than the epoch before; early stopping counts epochs since the "
                "best so far: a small dip that does not beat the best does not reset the count",
                "你数的是比前一轮更差的轮次；早停数的是距离目前最好轮次过了多少轮：一次没有超过最好值的小幅下降"
                "不会让计数重新开始"),
        Mistake(_uncapped,
                "when patience never runs out, training ends with the last epoch given: it cannot stop after an "
                "epoch that is not in the list",
                "如果耐心值一直没有用完，训练在给出的最后一轮结束：它不可能在列表之外的轮次之后停止"),
        Mistake(_never_stops,
                "the stop epoch is always the last one: early stopping ends the run as soon as the loss has not "
                "improved for `patience` epochs",
                "停止轮次总是最后一轮：只要损失连续 `patience` 轮没有改进，早停就会结束训练"),
        Mistake(_returns_best_twice,
                "the stop epoch is the best epoch: training runs on for `patience` more epochs before it can know "
                "that the best is behind it; restore_best then goes back to the best",
                "停止轮次就是最好轮次：训练要再跑 `patience` 轮才能知道最好值已经过去；之后 restore_best "
                "才回到最好的那一轮"),
    ],
    note=("That is the rule fit(early_stopping=p, restore_best=True) follows; on a plateau of equal losses it "
          "stops, and keeps the first.",
          "这正是 fit(early_stopping=p, restore_best=True) 遵循的规则；遇到损失相等的平台时它会停止，并保留第一轮。")),
    hint="Walk through the epochs from 1, keeping the best epoch so far (a strictly lower loss replaces it). After "
         "each epoch, how many epochs ago was the best? When that reaches `patience`, training stops there.",
    reference=_early_stopping, title_zh="早停在何时停止",
    hint_zh="从第 1 轮开始逐轮遍历，记下目前最好的轮次（只有严格更低的损失才替换它）。每一轮之后，"
            "最好轮次是几轮之前？当它达到 `patience` 时，训练就在这一轮停止。")


