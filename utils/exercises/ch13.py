"""Chapter 13 (transfer learning) exercises: a new head on a frozen backbone, parameter groups with a
lower learning rate for the backbone, and what each part of a network will train."""
from __future__ import annotations

import copy

import torch
from torch import nn

from utils import resnet
from utils.exercises import Case, Mistake, Question, as_number, function_checker, require, same
from utils.training import _set_mode, freeze

CHAPTER = "13"


class ModelCase(Case):
    """A case whose arguments include a network: every call gets its own copy of it."""

    def fresh(self):
        args, kwargs = super().fresh()
        return tuple(copy.deepcopy(a) if isinstance(a, nn.Module) else a for a in args), kwargs


class Summary(tuple):
    """What a checker compares of a result (a network, parameter groups), made from it once."""


def summarised(convert):
    """A ``compare`` for results that are summarised before comparing: the learner's arrive summarised
    (through ``convert``), the reference's and the catalogued mistakes' as they were returned."""
    def summary(value):
        return value if isinstance(value, Summary) else convert(value, "the reference")

    return lambda actual, expected: same(summary(actual), summary(expected))


def _network(width: int, seed: int, depth: int = 8) -> nn.Module:
    """A small ResNet from utils.resnet (its head: ``fc``), built without moving the learner's random numbers."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return resnet.resnet_for_small_images(depth, width, in_channels=3, num_classes=10)


def _partly_frozen(width: int, seed: int, frozen: tuple[str, ...], depth: int = 8) -> nn.Module:
    model = _network(width, seed, depth)
    for name in frozen:
        freeze(getattr(model, name))
    return model


# q1 · a new head on a frozen backbone -------------------------------------------------------------

def _frozen_with_new_head(model, num_classes):
    freeze(model)
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    return model


def _head_and_freezing(result, name):
    """What matters of the returned network, as fit() would meet it (after its model.train())."""
    require(isinstance(result, nn.Module),
            f"{name} should return the network (an nn.Module) with its new head; it returned a {type(result).__name__}",
            zh=f"{name} 应当返回换上新分类头的网络（一个 nn.Module）；它返回的是 {type(result).__name__}")
    require(isinstance(getattr(result, "fc", None), nn.Module),
            f"the network {name} returned has no head called fc: put the new head in model.fc, where the old one was",
            zh=f"{name} 返回的网络没有名为 fc 的分类头：请把新的分类头放在 model.fc，也就是旧分类头所在的位置")
    _set_mode(result, True)  # what fit() does at the start of every epoch
    head = result.fc
    linears = [m for m in head.modules() if isinstance(m, nn.Linear)]
    backbone = [p for n, p in result.named_parameters() if not n.startswith("fc.")]
    norms = [m for n, m in result.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
             and not n.startswith("fc.")]
    with torch.no_grad():
        kept = float(sum(p.double().sum() for p in backbone))
    return Summary((type(head).__name__, len(linears), linears[0].in_features if linears else 0,
                    linears[-1].out_features if linears else 0, all(p.requires_grad for p in head.parameters()),
                    sum(p.requires_grad for p in backbone), sum(m.training for m in norms), kept))


def _head_hard_coded(model, num_classes):
    freeze(model)
    model.fc = nn.Linear(64, num_classes)
    return model


def _head_frozen_too(model, num_classes):
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    return freeze(model)


def _norms_in_train_mode(model, num_classes):
    for parameter in model.parameters():
        parameter.requires_grad = False
    model.eval()
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    return model


def _wrong_part_frozen(model, num_classes):
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    model.fc.requires_grad_(False)
    return model


def _nothing_frozen(model, num_classes):
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    return model


def _old_class_count(model, num_classes):
    freeze(model)
    model.fc = nn.Linear(model.fc.in_features, model.fc.out_features)
    return model


def _stacked_on_the_old_head(model, num_classes):
    freeze(model)
    model.fc = nn.Sequential(model.fc, nn.Linear(model.fc.out_features, num_classes))
    return model


q1 = Question("q1", "a new head on a frozen backbone", chapter=CHAPTER, checker=function_checker(
    "frozen_with_new_head", _frozen_with_new_head, convert=_head_and_freezing,
    compare=summarised(_head_and_freezing),
    cases=[ModelCase(_network(16, 1), 5, note="the chapter's width", note_zh="本章的宽度"),
           ModelCase(_network(8, 2), 3, note="a narrower backbone", note_zh="更窄的主干"),
           ModelCase(_network(12, 3), 7, note="another width and more classes", note_zh="另一种宽度、更多类别"),
           ModelCase(_network(6, 4, depth=14), 4, hidden=True)],
    mistakes=[
        Mistake(_head_hard_coded,
                "the new head's in_features is hard-coded: a backbone of another width gives another number of "
                "features. Read it from the layer you replace, model.fc.in_features",
                "新分类头的 in_features 是写死的：换一个宽度的主干，特征数就不同了。请从被替换的那一层读取："
                "model.fc.in_features"),
        Mistake(_head_frozen_too,
                "the new head is frozen too, so nothing would train: freeze the backbone first, then put the new "
                "head in (a new layer's parameters require gradients)",
                "新分类头也被冻结了，这样什么都不会训练：先冻结主干，再换上新分类头（新层的参数默认需要梯度）"),
        Mistake(_norms_in_train_mode,
                "the backbone's batch norms go back to training mode as soon as the training loop calls "
                "model.train(), and then every batch overwrites their running statistics: requires_grad=False "
                "and model.eval() do not stop that. Freeze with freeze(), which keeps them in eval mode inside fit()",
                "训练循环一调用 model.train()，主干里的批归一化就回到训练模式，每一批数据都会改写它们的滑动统计量："
                "requires_grad=False 和 model.eval() 都挡不住。请用 freeze() 冻结，它让它们在 fit() 中保持评估模式"),
        Mistake(_wrong_part_frozen,
                "requires_grad is switched off on the wrong part: the backbone should stay fixed and the new head "
                "should train",
                "关掉 requires_grad 的部分弄反了：应当固定主干、训练新分类头"),
        Mistake(_nothing_frozen,
                "the backbone is not frozen: all its parameters would train with the head. Freeze it before you "
                "put the new head in",
                "主干没有冻结：它的全部参数会和分类头一起训练。请在换上新分类头之前冻结它"),
        Mistake(_old_class_count,
                "the new head gives as many scores as the old task had classes: it needs one score per class of "
                "the new task, num_classes",
                "新分类头输出的分数个数等于旧任务的类别数：它需要为新任务的每一类输出一个分数，即 num_classes"),
        Mistake(_stacked_on_the_old_head,
                "the old head is still there: your new layer reads the old head's scores instead of the "
                "backbone's features. Replace model.fc rather than stacking a layer after it",
                "旧分类头还在：你的新层读的是旧分类头的分数，而不是主干的特征。请替换 model.fc，而不是在它后面再接一层"),
    ],
    note=("the backbone's parameters are fixed, its batch norms stay in eval mode inside fit(), and only the new "
          "head trains.", "主干的参数固定不变，其批归一化在 fit() 中保持评估模式，只有新分类头在训练。")),
    hint="Freeze first (freeze(model) from utils.training), then replace model.fc with a new nn.Linear: how many "
         "inputs does the layer you replace take?",
    reference=_frozen_with_new_head, title_zh="冻结主干并换上新分类头",
    hint_zh="先冻结（utils.training 中的 freeze(model)），再用新的 nn.Linear 替换 model.fc：被替换的那一层有多少个输入？")


# q2 · parameter groups with a lower learning rate for the backbone --------------------------------

def _parameter_groups(model, head_lr, backbone_lr):
    backbone = [p for n, p in model.named_parameters() if not n.startswith("fc.") and p.requires_grad]
    return [{"params": backbone, "lr": backbone_lr}, {"params": list(model.fc.parameters()), "lr": head_lr}]


def _groups_summary(result, name):
    """Each group as (lr, tensors, numbers, any frozen), sorted; and how many tensors sit in two groups."""
    require(isinstance(result, (list, tuple)) and all(isinstance(g, dict) for g in result),
            f"{name} should return a list of parameter groups, dictionaries such as {{'params': ..., 'lr': ...}}; "
            f"it returned a {type(result).__name__}",
            zh=f"{name} 应当返回参数组的列表，即形如 {{'params': ..., 'lr': ...}} 的字典；它返回的是 {type(result).__name__}")
    summary, seen = [], []
    for group in result:
        require("params" in group and "lr" in group,
                "each group needs its own 'params' and its own 'lr': a group without 'lr' silently takes the "
                "optimizer's default, which is neither of the two rates",
                zh="每个组都需要自己的 'params' 和自己的 'lr'：没有 'lr' 的组会悄悄使用优化器的默认学习率，"
                   "而那不是这两个学习率中的任何一个")
        params = [group["params"]] if torch.is_tensor(group["params"]) else list(group["params"])
        seen += [id(p) for p in params]
        summary.append((as_number(group["lr"], name, what="a learning rate", what_zh="学习率"), len(params),
                        sum(p.numel() for p in params), any(not p.requires_grad for p in params)))
    return Summary((tuple(sorted(summary)), len(seen) - len(set(seen))))


def _head_twice(model, head_lr, backbone_lr):
    trainable = [p for p in model.parameters() if p.requires_grad]
    return [{"params": trainable, "lr": backbone_lr}, {"params": list(model.fc.parameters()), "lr": head_lr}]


def _same_rate(model, head_lr, backbone_lr):
    return _parameter_groups(model, head_lr, head_lr)


def _swapped_rates(model, head_lr, backbone_lr):
    return _parameter_groups(model, backbone_lr, head_lr)


def _head_only(model, head_lr, backbone_lr):
    return [{"params": list(model.fc.parameters()), "lr": head_lr}]


def _frozen_included(model, head_lr, backbone_lr):
    backbone = [p for n, p in model.named_parameters() if not n.startswith("fc.")]
    return [{"params": backbone, "lr": backbone_lr}, {"params": list(model.fc.parameters()), "lr": head_lr}]


def _head_by_position(model, head_lr, backbone_lr):
    trainable = [p for p in model.parameters() if p.requires_grad]
    return [{"params": trainable[:-1], "lr": backbone_lr}, {"params": trainable[-1:], "lr": head_lr}]


q2 = Question("q2", "parameter groups with a lower learning rate for the backbone", chapter=CHAPTER,
              checker=function_checker(
    "parameter_groups", _parameter_groups, convert=_groups_summary, compare=summarised(_groups_summary),
    cases=[ModelCase(_partly_frozen(16, 1, ("conv1", "bn1")), 1e-2, 1e-3, note="the stem frozen",
                     note_zh="起始层被冻结"),
           ModelCase(_partly_frozen(8, 2, ("conv1", "bn1", "layer1")), 3e-3, 3e-4,
                     note="the stem and the first stage frozen", note_zh="起始层和第一阶段被冻结"),
           ModelCase(_partly_frozen(12, 3, ()), 0.1, 0.005, note="nothing frozen", note_zh="没有冻结任何部分"),
           ModelCase(_partly_frozen(6, 4, ("conv1", "bn1", "layer1", "layer2"), depth=14), 0.02, 0.001,
                     hidden=True)],
    mistakes=[
        Mistake(_head_twice,
                "the head's parameters are in both groups: model.parameters() includes model.fc's. PyTorch refuses "
                "a parameter that appears in two groups; leave the head out of the backbone's group",
                "分类头的参数同时出现在两个组里：model.parameters() 包含了 model.fc 的参数。PyTorch 不接受出现在"
                "两个组里的参数；请把分类头排除在主干的组之外"),
        Mistake(_same_rate,
                "the backbone's learning rate is not lowered: both groups train at the head's rate, and the "
                "pre-trained features are overwritten as fast as the new head learns",
                "主干的学习率没有调低：两个组都按分类头的学习率训练，预训练的特征会和新分类头学得一样快地被改写"),
        Mistake(_swapped_rates,
                "the learning rates are swapped: the backbone, which already knows its job, gets the higher rate "
                "and the new head the lower one",
                "学习率弄反了：已经学会本领的主干得到了较高的学习率，新分类头反而得到较低的"),
        Mistake(_head_only,
                "the backbone's parameters are missing: fine-tuning trains them too, at the lower rate. Only "
                "feature extraction trains the head alone",
                "缺少主干的参数：微调也训练它们，只是学习率较低。只有特征提取才只训练分类头"),
        Mistake(_frozen_included,
                "frozen parameters are in a group: keep only the backbone's parameters that train "
                "(requires_grad is True); a frozen part stays as it is",
                "参数组里有被冻结的参数：只保留主干中要训练的参数（requires_grad 为 True）；冻结的部分保持原样"),
        Mistake(_head_by_position,
                "the head group does not hold all of model.fc's parameters: picking them by position takes only "
                "the last tensor, the bias, and leaves the weight with the backbone. Take model.fc.parameters()",
                "分类头的组没有包含 model.fc 的全部参数：按位置挑只取到了最后一个张量（偏置），权重留在了主干的组里。"
                "请用 model.fc.parameters()"),
    ],
    note=("an optimizer built from these groups fine-tunes the backbone gently and trains the new head fast.",
          "用这些参数组构建的优化器会温和地微调主干，同时快速训练新分类头。")),
    hint="Name the head's parameters by where they live (model.fc), and the backbone's by what is left: which of "
         "those will actually train?",
    reference=_parameter_groups, title_zh="主干学习率较低的参数组",
    hint_zh="分类头的参数按位置来找（model.fc），主干的参数就是其余的部分：其中哪些真的会训练？")


# q3 · what each part of a network will train -------------------------------------------------------

def _trainable_by_part(model):
    return {name: sum(p.numel() for p in part.parameters() if p.requires_grad)
            for name, part in model.named_children()}


def _counts_by_part(result, name):
    require(isinstance(result, dict) and all(isinstance(key, str) for key in result),
            f"{name} should return a dictionary from each part's name to a number; it returned a "
            f"{type(result).__name__}",
            zh=f"{name} 应当返回一个字典，把每个部分的名字对应到一个数；它返回的是 {type(result).__name__}")
    return {key: as_number(value, name, integer=True, what=f"the count for {key!r}", what_zh=f"{key!r} 的个数")
            for key, value in result.items()}


def _counted_tensors(model):
    return {name: len([p for p in part.parameters() if p.requires_grad]) for name, part in model.named_children()}


def _ignored_requires_grad(model):
    return {name: sum(p.numel() for p in part.parameters()) for name, part in model.named_children()}


def _counted_frozen(model):
    return {name: sum(p.numel() for p in part.parameters() if not p.requires_grad)
            for name, part in model.named_children()}


def _counted_state_dict(model):
    return {name: sum(t.numel() for t in part.state_dict().values()) for name, part in model.named_children()}


def _every_module(model):
    return {name: sum(p.numel() for p in part.parameters() if p.requires_grad)
            for name, part in model.named_modules() if name}


def _skipped_empty_parts(model):
    counts = _trainable_by_part(model)
    return {name: count for name, count in counts.items() if any(True for _ in getattr(model, name).parameters())}


def _weights_only(model):
    return {name: sum(p.numel() for n, p in part.named_parameters() if p.requires_grad and n.endswith("weight"))
            for name, part in model.named_children()}


q3 = Question("q3", "what each part of a network will train", chapter=CHAPTER, checker=function_checker(
    "trainable_by_part", _trainable_by_part, convert=_counts_by_part,
    cases=[ModelCase(_partly_frozen(16, 1, ("conv1", "bn1", "layer1", "layer2", "layer3")),
                     note="only the head trains", note_zh="只有分类头在训练"),
           ModelCase(_partly_frozen(8, 2, ("conv1", "bn1", "layer1")), note="the stem and the first stage frozen",
                     note_zh="起始层和第一阶段被冻结"),
           ModelCase(_partly_frozen(12, 3, ()), note="nothing frozen", note_zh="没有冻结任何部分"),
           ModelCase(_partly_frozen(6, 4, ("layer2",), depth=14), hidden=True)],
    mistakes=[
        Mistake(_counted_tensors,
                "you counted tensors, not numbers: a weight of shape [64, 32, 3, 3] is one tensor but 18,432 "
                "parameters. Add up p.numel()",
                "你数的是张量的个数，而不是数的个数：形状为 [64, 32, 3, 3] 的权重是一个张量，却有 18,432 个参数。"
                "请把 p.numel() 加起来"),
        Mistake(_ignored_requires_grad,
                "your counts include the frozen parameters: count only those with requires_grad",
                "你的计数包含了被冻结的参数：只数 requires_grad 为 True 的那些"),
        Mistake(_counted_frozen,
                "you counted the frozen parameters instead of the trainable ones: requires_grad is True for those "
                "that train",
                "你数的是被冻结的参数，而不是可训练的参数：要训练的参数 requires_grad 为 True"),
        Mistake(_counted_state_dict,
                "state_dict() is not the list of parameters: it also holds the batch norms' running mean and "
                "variance and their batch counters, and its tensors do not say whether they train. Count "
                "part.parameters()",
                "state_dict() 不是参数的列表：它还包含批归一化的滑动均值、方差和批次计数，而且其中的张量不说明自己是否"
                "参与训练。请数 part.parameters()"),
        Mistake(_every_module,
                "you went through every module at every depth (named_modules()), so a block's layers appear as "
                "well as the block: the parts are the network's direct children, named_children()",
                "你遍历了每一层深度上的所有模块（named_modules()），于是一个块里的层和这个块本身都出现了："
                "这里的部分是网络的直接子模块，named_children()"),
        Mistake(_skipped_empty_parts,
                "parts without parameters (the ReLU, the pooling) are missing: every part gets an entry, 0 when it "
                "has nothing to train",
                "没有参数的部分（ReLU、池化）不见了：每个部分都要有一项，没有可训练参数时记为 0"),
        Mistake(_weights_only,
                "the biases are missing (and the batch norms' β): count every parameter, not only those called "
                "weight",
                "漏了偏置（以及批归一化的 β）：请数所有参数，而不只是名为 weight 的那些"),
    ],
    note=("a table like this one shows at a glance which parts a fine-tuning run will change.",
          "这样一张表一眼就能看出一次微调会改变网络的哪些部分。")),
    hint="model.named_children() gives each part and its name; each parameter has requires_grad and numel().",
    reference=_trainable_by_part, title_zh="网络的每个部分要训练多少参数",
    hint_zh="model.named_children() 给出每个部分及其名字；每个参数都有 requires_grad 和 numel()。")
