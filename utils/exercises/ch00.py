"""Chapter 00 (setup) exercises: a batch on the right device and dtype, a reproducible split, and a
stopwatch for a device that works asynchronously."""
from __future__ import annotations

import functools
import random

import numpy as np
import torch

from utils.exercises import Case, Mistake, Question, as_number, call, function_checker, parts, require, same

CHAPTER = "00"


def _seeded(seed: int, *shape) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).round(decimals=2)


# q1 · a batch the model can use ----------------------------------------------------------------

def _to_device(features, labels, device):
    return features.to(device=device, dtype=torch.float32), labels.to(device=device, dtype=torch.int64)


def _seen(tensor: torch.Tensor) -> tuple:
    """What the check compares of a tensor: its values (the meta device has none), dtype and device."""
    values = None if tensor.device.type == "meta" else tensor.detach().cpu()
    return values, str(tensor.dtype), tensor.device.type


def _batch(out, name):
    features, labels = parts(out, 2, name, "(features, labels)", "（特征, 标签）")
    return _seen(features), _seen(labels)


def _judged(answer):
    """An answer (or a known mistake) as the check sees its result."""
    @functools.wraps(answer)
    def judged(features, labels, device):
        return _batch(answer(features, labels, device), answer.__name__)
    return judged


def _read_from_a_file(seed: int, rows: int, columns: int, classes: int, device: str, hidden: bool = False) -> Case:
    """A batch as np.loadtxt gives it: features and labels both float64."""
    labels = torch.randint(classes, (rows,), generator=torch.Generator().manual_seed(seed)).double()
    return Case(_seeded(seed, rows, columns), labels, torch.device(device), hidden=hidden,
                note="labels read from a text file, as float64", note_zh="标签从文本文件读入，类型为 float64")


def _discards_to(features, labels, device):
    features.to(device=device, dtype=torch.float32)  # the result is thrown away
    labels.to(device=device, dtype=torch.int64)
    return features, labels


q1 = Question("q1", "a batch the model can use", chapter=CHAPTER, checker=function_checker(
    "to_device", _judged(_to_device), convert=_batch,
    cases=[
        _read_from_a_file(0, 4, 3, 3, "cpu"),
        Case(_seeded(1, 3, 2), torch.tensor([2, 0, 1]), torch.device("cpu"),
             note="labels that are int64 already", note_zh="标签本来就是 int64"),
        _read_from_a_file(2, 3, 2, 2, "meta"),
        _read_from_a_file(3, 6, 4, 10, "cpu", hidden=True),
    ],
    mistakes=[
        Mistake(_judged(_discards_to),
                "you returned the tensors you were given, unchanged: .to() returns a new tensor and leaves the "
                "original alone, so keep its result (features = features.to(...))",
                "你原样返回了传入的张量：.to() 会返回一个新张量，原来的张量保持不变，所以要保留它的结果"
                "（features = features.to(...)）"),
        Mistake(_judged(lambda f, l, d: (f.to(d), l.to(d))),
                "you moved both tensors but kept their dtypes: the features must become float32, the dtype of "
                "a layer's weights, and the labels int64",
                "你移动了两个张量，但保留了它们的数据类型：特征必须变成 float32（层的权重就是这种类型），标签必须变成 int64"),
        Mistake(_judged(lambda f, l, d: (f.float().to(d), l.float().to(d))),
                "the labels became float32: F.cross_entropy takes class indices as int64 (torch.long) and refuses "
                "float labels. Convert the features to float32 and the labels to int64",
                "标签变成了 float32：F.cross_entropy 要求类别索引是 int64（torch.long），会拒绝浮点标签。"
                "请把特征转为 float32，标签转为 int64"),
        Mistake(_judged(lambda f, l, d: (f.float().to(d), l.to(d))),
                "the labels are still float64, as np.loadtxt read them: class indices must be int64 (.long())",
                "标签仍是 np.loadtxt 读入时的 float64：类别索引必须是 int64（.long()）"),
        Mistake(_judged(lambda f, l, d: (f.float().to(d), l.int().to(d))),
                "the labels are int32: F.cross_entropy wants class indices as int64 (torch.long), not int32",
                "标签是 int32：F.cross_entropy 要求类别索引是 int64（torch.long），而不是 int32"),
        Mistake(_judged(lambda f, l, d: (f.half().to(d), l.long().to(d))),
                "the features are float16: the course's layers compute in float32 and refuse another dtype",
                "特征是 float16：本课程的层用 float32 计算，会拒绝其他数据类型"),
        Mistake(_judged(lambda f, l, d: (f.float(), l.long())),
                "asked for the 'meta' device, your tensors stayed where they were: move them to the device you were "
                "given (.to(device=device, ...)), not to a fixed one like 'cpu' or 'cuda'",
                "要求的是 'meta' 设备，你的张量却留在原处：请把它们移到传给你的设备上"
                "（.to(device=device, ...)），而不是固定的 'cpu' 或 'cuda'"),
        Mistake(_judged(lambda f, l, d: (f.float().to(d), l.long())),
                "the features moved but the labels stayed on the CPU: the loss compares them with the model's "
                "output, so they must be on the same device",
                "特征移过去了，标签却留在 CPU 上：损失函数要把标签和模型的输出放在一起比较，所以它们必须在同一个设备上"),
        Mistake(_judged(lambda f, l, d: (l.long().to(d), f.float().to(d))),
                "you returned (labels, features): return them in the order they came, (features, labels)",
                "你返回的是 (labels, features)：请按传入的顺序返回 (features, labels)"),
        Mistake(_judged(lambda f, l, d: ((f / f.abs().max()).float().to(d), l.long().to(d))),
                "the feature values changed: convert the type and the device, keep the numbers",
                "特征的数值变了：只转换类型和设备，保持数字不变"),
    ],
    note=("float32 features and int64 labels on one device: what a layer and F.cross_entropy expect.",
          "同一设备上的 float32 特征和 int64 标签：正是层和 F.cross_entropy 所要求的。")),
    hint="Two .to() calls, one per tensor, each naming the device and the dtype it needs. Which dtype does a "
         "class index have?",
    reference=_to_device, title_zh="模型能用的一批数据",
    hint_zh="调用两次 .to()，每个张量一次，各自写明它需要的设备和数据类型。类别索引应当是什么数据类型？")


# q2 · a reproducible train/validation split ----------------------------------------------------

def _split_indices(n, n_val, seed):
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return order[n_val:], order[:n_val]


_SPLITS = [(10, 3, 0), (12, 1, 5), (9, 7, 2), (1000, 250, 2024)]  # the last is never printed


def _split_of(fn, n, n_val, seed, hidden):
    """The learner's (train, val) for one case, with its type, dtype and sizes checked."""
    where = "a further case, kept hidden" if hidden else f"n = {n}, n_val = {n_val}, seed = {seed}"
    where_zh = "另一个不公开的用例" if hidden else where
    train, val = parts(call(fn, n, n_val, seed, name="split_indices"), 2, "split_indices",
                       "(train, val)", "（train, val）")
    for part in (train, val):
        require(part.dtype != torch.bool,
                "you returned True/False masks; return the indices themselves (torch.nonzero turns a mask into them)",
                zh="你返回的是 True/False 掩码；请返回索引本身（torch.nonzero 可以把掩码变成索引）")
        require(not part.is_floating_point() and not part.is_complex(),
                f"the indices are {part.dtype}: indices are whole numbers, int64, and a float tensor cannot index "
                "a data set. Do not convert the permutation to float",
                zh=f"索引的类型是 {part.dtype}：索引是整数 int64，浮点张量不能用来索引数据集。不要把排列转成浮点数")
        require(part.ndim == 1, f"return two 1-D tensors of indices; one has shape {tuple(part.shape)}",
                zh=f"请返回两个一维索引张量；其中一个的形状是 {tuple(part.shape)}")
    sizes = (len(train), len(val))
    require(sizes != (n_val, n - n_val),
            "you returned (val, train): return the training indices first, (train, val)",
            zh="你返回的是 (val, train)：请先返回训练集的索引，即 (train, val)")
    require(not (len(train) == n and set(val.tolist()) <= set(train.tolist())),
            "the training indices still contain the validation indices: the model would be validated on examples "
            "it trained on. Split one shuffled order into two parts that do not overlap",
            zh="训练集的索引里仍然包含验证集的索引：模型会在它训练过的样本上接受验证。"
               "请把一个打乱后的顺序切成互不重叠的两段")
    require(sizes == (n - n_val, n_val),
            f"for {where} you returned {len(train)} training and {len(val)} validation indices; there should be "
            "n − n_val and n_val of them. Look for an off-by-one in the slices: order[:k] and order[k:] meet "
            "exactly at k",
            zh=f"对 {where_zh}，你返回了 {len(train)} 个训练索引和 {len(val)} 个验证索引；应当分别是 n − n_val 个"
               "和 n_val 个。检查切片是否差了一：order[:k] 和 order[k:] 正好在 k 处相接")
    everything = torch.cat([train, val])
    require(len(set(train.tolist())) == len(train) and len(set(val.tolist())) == len(val),
            f"for {where} an index appears twice in one part: torch.randint draws with replacement. Shuffle "
            "0 … n − 1 with torch.randperm instead",
            zh=f"对 {where_zh}，同一部分里有索引出现了两次：torch.randint 是有放回抽样。请改用 torch.randperm 打乱 0 … n − 1")
    require(len(set(everything.tolist())) == n,
            f"for {where} some indices are in both parts: two separate shuffles overlap. Shuffle once and cut "
            "that one order in two",
            zh=f"对 {where_zh}，有些索引同时出现在两部分中：两次独立的打乱会有重叠。只打乱一次，再把这一个顺序切成两段")
    require(int(everything.min()) >= 0 and int(everything.max()) < n,
            f"for {where} some indices are outside 0 … n − 1", zh=f"对 {where_zh}，有些索引超出了 0 … n − 1")
    return train, val


def _global_streams() -> tuple:
    return torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate()


def _changed_streams(before: tuple, after: tuple) -> list[str]:
    names = ["PyTorch's (torch.manual_seed, torch.rand…)", "NumPy's (np.random.seed, np.random.…)",
             "Python's (random.seed, random.…)"]
    same_state = [torch.equal(before[0], after[0]), np.array_equal(before[1], after[1]), before[2] == after[2]]
    return [name for name, unchanged in zip(names, same_state) if not unchanged]


def _restoring_streams(check):
    """Run ``check`` from a known global state, and put the notebook's global random streams back after."""
    @functools.wraps(check)
    def restoring(fn):
        saved = torch.get_rng_state(), np.random.get_state(), random.getstate()
        try:
            torch.manual_seed(12345), np.random.seed(12345), random.seed(12345)
            return check(fn)
        finally:
            torch.set_rng_state(saved[0]), np.random.set_state(saved[1]), random.setstate(saved[2])
    return restoring


@_restoring_streams
def _check_split(fn):
    for number, (n, n_val, seed) in enumerate(_SPLITS):
        _split_of(fn, n, n_val, seed, hidden=number == len(_SPLITS) - 1)
    train, val = call(fn, 10, 3, 0, name="split_indices")
    again = call(fn, 10, 3, 0, name="split_indices")
    require(torch.equal(val, again[1]) and torch.equal(train, again[0]),
            "two calls with the same seed gave different splits: draw the order from a generator of your own, "
            "seeded with `seed` (torch.Generator().manual_seed(seed))",
            zh="同一个种子调用两次，得到的划分却不同：请从你自己的、用 `seed` 设好种子的生成器中抽取顺序"
               "（torch.Generator().manual_seed(seed)）")
    torch.manual_seed(1), np.random.seed(1), random.seed(1)  # a state no seed of the cases leaves behind
    before = _global_streams()
    call(fn, 10, 3, 0, name="split_indices")
    changed = (_changed_streams(before, _global_streams()) or [""])[0]
    require(not changed,
            f"right split, but your function changed the notebook's global random stream, {changed}: every later "
            "cell now draws different numbers. Use a generator of your own",
            zh=f"划分是对的，但你的函数改变了 notebook 的全局随机数流 {changed}："
               "之后每个单元抽到的数都会变。请使用你自己的生成器")
    vals = [set(call(fn, 10, 3, seed, name="split_indices")[1].tolist()) for seed in range(5)]
    require(not all(v == {7, 8, 9} for v in vals) and not all(v == {0, 1, 2} for v in vals),
            "the validation set is always the last (or first) rows, in file order: that is not shuffled. Data "
            "files are often sorted (by class, by date), so shuffle before you cut",
            zh="验证集总是文件顺序里的最后（或最前）几行：这没有打乱。数据文件常常是排好序的（按类别、按日期），所以先打乱再切分")
    require(any(v != vals[0] for v in vals),
            "seeds 0 to 4 all gave the same split: is the seed you were given really used?",
            zh="种子 0 到 4 给出了相同的划分：传给你的种子真的用上了吗？")
    return None


q2 = Question("q2", "a reproducible train/validation split", _check_split, chapter=CHAPTER,
              hint="A shuffle that never repeats an index is a permutation: which torch function draws one, and "
                   "does it take generator=? Then, how do you cut one order into two parts that cannot overlap?",
              reference=_split_indices, title_zh="可复现的训练集/验证集划分",
              hint_zh="不重复任何索引的打乱就是一个排列：torch 里哪个函数能抽出排列，它接受 generator= 吗？"
                      "然后，怎样把一个顺序切成不可能重叠的两部分？")


# q3 · a stopwatch for a device that works asynchronously ---------------------------------------

class _PretendGPU:
    """The checker's pretend GPU: ``work()`` is queued at once and done later, on a clock of its own."""

    def __init__(self, per_call: float, startup: float, queueing: float):
        self.per_call, self.startup, self.queueing = per_call, startup, queueing
        self.now = self.busy_until = 0.0
        self.reads = 0

    def work(self):
        begins = max(self.now, self.busy_until) + self.startup
        self.startup = 0.0  # only the first call pays it
        self.busy_until = begins + self.per_call
        self.now += self.queueing

    def synchronize(self):
        self.now = max(self.now, self.busy_until)

    def clock(self):
        self.reads += 1
        return self.now


class _Device:
    """One test device: printed by number only, since its time per call is the answer."""

    def __init__(self, number: int, per_call: float, startup: float, queueing: float):
        self.number, self.settings = number, (per_call, startup, queueing)

    def fresh(self) -> _PretendGPU:
        return _PretendGPU(*self.settings)

    def __repr__(self) -> str:
        return f"pretend GPU {self.number}"


def _on_device(answer):
    """An answer (or a known mistake) run on a fresh pretend GPU: ``(device, repeats) -> seconds``."""
    if answer is None or not callable(answer):
        return answer

    def timed(device, repeats):
        gpu = device.fresh()
        seconds = answer(gpu.work, gpu.synchronize, gpu.clock, repeats)
        require(gpu.reads > 0,
                "your function never read the clock it was given: time with clock(), the device's clock. "
                "time.perf_counter() reads this computer's clock, on which the pretend GPU takes no time",
                zh="你的函数从没读取传给它的时钟：请用 clock() 计时，那是设备的时钟。"
                   "time.perf_counter() 读的是这台计算机的时钟，在它上面假想的 GPU 不花任何时间")
        return seconds
    return timed


def _seconds_per_call(work, synchronize, clock, repeats):
    work()  # warm-up: the first call pays one-off costs
    synchronize()
    start = clock()
    for _ in range(repeats):
        work()
    synchronize()  # wait until the device has finished, then read the clock
    return (clock() - start) / repeats


def _no_final_wait(work, synchronize, clock, repeats):
    work()
    synchronize()
    start = clock()
    for _ in range(repeats):
        work()
    return (clock() - start) / repeats


def _no_warm_up(work, synchronize, clock, repeats):
    synchronize()
    start = clock()
    for _ in range(repeats):
        work()
    synchronize()
    return (clock() - start) / repeats


def _clock_before_warm_up(work, synchronize, clock, repeats):
    start = clock()
    work()
    synchronize()
    for _ in range(repeats):
        work()
    synchronize()
    return (clock() - start) / repeats


def _warm_up_still_running(work, synchronize, clock, repeats):
    work()
    start = clock()
    for _ in range(repeats):
        work()
    synchronize()
    return (clock() - start) / repeats


def _total(work, synchronize, clock, repeats):
    return _seconds_per_call(work, synchronize, clock, repeats) * repeats


def _one_call_more(work, synchronize, clock, repeats):
    work()
    synchronize()
    start = clock()
    for _ in range(repeats + 1):
        work()
    synchronize()
    return (clock() - start) / repeats


def _clock_restarted(work, synchronize, clock, repeats):
    work()
    synchronize()
    for _ in range(repeats):
        start = clock()
        work()
    synchronize()
    return (clock() - start) / repeats


def _milliseconds(work, synchronize, clock, repeats):
    return _seconds_per_call(work, synchronize, clock, repeats) * 1000


_DEVICES = [Case(_Device(1, 0.25, 2.0, 0.001), 10), Case(_Device(2, 0.004, 0.5, 0.00002), 50),
            Case(_Device(3, 1.5, 0.0, 0.01), 4, note="no start-up cost", note_zh="没有启动开销"),
            Case(_Device(4, 0.07, 3.0, 0.0005), 20, hidden=True)]

_timing_table = function_checker(
    "seconds_per_call", _on_device(_seconds_per_call), cases=_DEVICES,
    convert=lambda out, name: as_number(out, name, what="the seconds per call", what_zh="每次调用的秒数"),
    compare=lambda a, b: same(a, b, atol=1e-9, rtol=1e-6),
    mistakes=[Mistake(_on_device(fn), en, zh) for fn, en, zh in [
        (_no_final_wait, "you measured only the time to queue the calls: the device was still working when you "
                         "read the clock. Call synchronize() (with the brackets) after the loop, before the second "
                         "clock()",
         "你只量到了把调用排进队列的时间：读时钟时设备还在工作。请在循环之后、第二次 clock() 之前调用 synchronize()（带括号）"),
        (_no_warm_up, "your time includes the first call's one-off start-up cost: call work() once as a warm-up "
                      "before you start the clock",
         "你的时间包含了第一次调用的一次性启动开销：开始计时之前先调用一次 work() 作为预热"),
        (_clock_before_warm_up, "you started the clock before the warm-up, so the warm-up and its start-up cost "
                                "were timed too: read the clock after the warm-up and a synchronize()",
         "你在预热之前就开始计时了，所以预热和它的启动开销也被计入：请在预热和 synchronize() 之后再读时钟"),
        (_warm_up_still_running, "the warm-up was still running when you started the clock, so its time was "
                                 "counted: synchronize() after the warm-up, then read the clock",
         "开始计时的时候预热还在运行，所以它的时间也被算了进去：预热之后先 synchronize()，再读时钟"),
        (_total, "that is the total time of all the calls: divide by the number of calls, `repeats`",
         "这是所有调用的总时间：请除以调用次数 `repeats`"),
        (_one_call_more, "your loop makes one call more than you divide by (an off-by-one): range(repeats) runs "
                         "exactly `repeats` times",
         "你的循环比除数多调用了一次（差一错误）：range(repeats) 正好运行 `repeats` 次"),
        (_clock_restarted, "you restarted the clock on every pass through the loop, so only the last call was "
                           "timed: read the clock once before the loop and once after it",
         "你在循环的每一轮都重新开始计时，所以只量到了最后一次调用：在循环前读一次时钟，循环后再读一次"),
        (_milliseconds, "that looks like milliseconds: return seconds, as the clock gives them",
         "这看起来是毫秒：请按时钟给出的单位返回秒"),
    ]])


def _check_seconds_per_call(fn):
    return _timing_table(_on_device(fn))


_check_seconds_per_call.expected_results = _timing_table.expected_results  # its table's visible cases, for the leak test


q3 = Question("q3", "a stopwatch for an asynchronous device", _check_seconds_per_call, chapter=CHAPTER,
              hint="The chapter's rules: pay the one-off costs before you start the clock, and wait for the device "
                   "before every reading of it. Then divide by the number of calls you timed.",
              reference=_seconds_per_call, title_zh="为异步设备计时的秒表",
              hint_zh="本章的规则：开始计时之前先付掉一次性开销；每次读时钟之前先等设备完成。然后除以计时的调用次数。")
