"""Chapter 00 (setup) exercises: tensors on the right device, reproducible randomness, profiles."""
import torch

from utils.env import Profile
from utils.exercises import Question, call, require


def _to_course_device(x, device):
    return x.to(device=device, dtype=torch.float32)


def _check_to_course_device(fn):
    x = torch.tensor([[1, 2], [3, 4]])
    out = call(fn, x, torch.device("cpu"), name="to_course_device")
    require(torch.is_tensor(out), f"return a tensor, not a {type(out).__name__}",
            zh=f"请返回一个张量，而不是 {type(out).__name__}")
    require(out.shape == x.shape, f"the shape changed from {tuple(x.shape)} to {tuple(out.shape)}: "
                                  "moving a tensor must not reshape it",
            zh=f"形状从 {tuple(x.shape)} 变成了 {tuple(out.shape)}：移动张量不应改变它的形状")
    require(out.dtype == torch.float32, f"dtype is {out.dtype}, expected torch.float32: integer tensors "
                                        "cannot carry gradients. Use .float() or .to(dtype=torch.float32)",
            zh=f"数据类型是 {out.dtype}，应为 torch.float32：整数张量无法携带梯度。"
               "请使用 .float() 或 .to(dtype=torch.float32)")
    require(out.device.type == "cpu", f"the tensor is on {out.device}, expected the device you were given",
            zh=f"张量在 {out.device} 上，应当在传给你的设备上")
    require(torch.equal(out, x.float()), "the values changed: convert the type, keep the numbers",
            zh="数值变了：只转换类型，保持数字不变")
    # On a CPU-only machine "cpu" is also where a device-blind answer lands; PyTorch's "meta" device
    # (shapes, no data) exists everywhere and tells the two apart.
    moved = call(fn, x, torch.device("meta"), name="to_course_device")
    require(torch.is_tensor(moved) and moved.device.type == "meta",
            f"asked for the 'meta' device, the tensor came back on {getattr(moved, 'device', '?')}: use the "
            "device you were given (x.to(device=device, ...)), not a fixed one like 'cpu' or 'cuda'",
            zh=f"要求的是 'meta' 设备，张量却回到了 {getattr(moved, 'device', '?')} 上：请使用"
               "传给你的设备（x.to(device=device, ...)），而不是固定的 'cpu' 或 'cuda'")


q1 = Question("q1", "a tensor on the course's device", _check_to_course_device, chapter="00",
              hint="One call does both: tensor.to(device=..., dtype=...).",
              reference=_to_course_device, title_zh="放到课程设备上的张量",
              hint_zh="一次调用同时完成两件事：tensor.to(device=..., dtype=...)。")


def _seeded_sample(seed, n):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, generator=generator)


def _check_seeded_sample(fn):
    state = torch.get_rng_state()
    first = call(fn, 7, 5, name="seeded_sample")
    global_untouched = torch.equal(state, torch.get_rng_state())
    require(torch.is_tensor(first), f"return a tensor, not a {type(first).__name__}",
            zh=f"请返回一个张量，而不是 {type(first).__name__}")
    require(first.shape == (5,), f"shape {tuple(first.shape)}, expected (5,): n numbers in one row",
            zh=f"形状是 {tuple(first.shape)}，应为 (5,)：一行 n 个数")
    require(torch.equal(first, call(fn, 7, 5, name="seeded_sample")),
            "two calls with the same seed gave different numbers: seed before you draw",
            zh="同一个种子两次调用给出了不同的数：先设种子，再抽样")
    require(not torch.equal(first, call(fn, 8, 5, name="seeded_sample")),
            "seeds 7 and 8 gave the same numbers: is the seed you were given really used?",
            zh="种子 7 和 8 给出了相同的数：传给你的种子真的用上了吗？")
    require(first.dtype == torch.float32, f"dtype is {first.dtype}, expected torch.float32 (what torch.randn gives)",
            zh=f"数据类型是 {first.dtype}，应为 torch.float32（torch.randn 给出的类型）")
    expected = _seeded_sample(7, 5)
    uniform = bool(((first >= 0) & (first < 1)).all())
    require(torch.equal(first, expected) or not uniform,
            "every number lies in [0, 1): that is torch.rand (uniform); a standard normal comes from torch.randn",
            zh="每个数都落在 [0, 1) 内：那是 torch.rand（均匀分布）；标准正态分布要用 torch.randn")
    require(torch.equal(first, expected),
            f"got {[round(v, 4) for v in first.tolist()]}, expected {[round(v, 4) for v in expected.tolist()]} "
            "for seed 7: draw with torch.randn(n, generator=...) "
            "from a torch.Generator seeded with `seed`",
            zh=f"得到 {[round(v, 4) for v in first.tolist()]}，种子 7 应得到 {[round(v, 4) for v in expected.tolist()]}："
               "请用以 `seed` 设种子的 torch.Generator，"
               "通过 torch.randn(n, generator=...) 抽样")
    require(global_untouched, "right numbers, but your function reseeded the notebook's global random "
                              "stream (torch.manual_seed), so every later cell now draws different numbers. "
                              "Use a generator of your own: torch.Generator().manual_seed(seed)",
            zh="数值正确，但你的函数重新设置了 notebook 的全局随机数流（torch.manual_seed），"
               "之后每个单元抽到的数都会变。请使用你自己的生成器："
               "torch.Generator().manual_seed(seed)")


q2 = Question("q2", "reproducible randomness", _check_seeded_sample, chapter="00",
              hint="Make a torch.Generator, seed it, and pass generator=... to torch.randn.",
              reference=_seeded_sample, title_zh="可复现的随机数",
              hint_zh="创建一个 torch.Generator，给它设种子，再把 generator=... 传给 torch.randn。")


def _epochs_for(profile):
    return profile.pick(quick=3, full=30)


def _check_epochs_for(fn):
    quick = call(fn, Profile("quick", "exercise"), name="epochs_for")
    full = call(fn, Profile("full", "exercise"), name="epochs_for")
    require(isinstance(quick, int) and isinstance(full, int),
            f"return whole numbers of epochs; got {type(quick).__name__} and {type(full).__name__}",
            zh=f"请返回整数个轮次；得到的是 {type(quick).__name__} 和 {type(full).__name__}")
    require(quick != full, f"both profiles gave {quick}: the quick profile should train less than the full one",
            zh=f"两种配置都给出了 {quick}：quick 配置应当比 full 配置训练得少")
    require((quick, full) != (30, 3), "the two are swapped: quick is 3 epochs, full is 30",
            zh="两者弄反了：quick 是 3 个轮次，full 是 30 个")
    require((quick, full) == (3, 30), f"got quick={quick}, full={full}; expected 3 and 30",
            zh=f"得到 quick={quick}，full={full}；应为 3 和 30")


q3 = Question("q3", "sizing an experiment by profile", _check_epochs_for, chapter="00",
              hint="A Profile answers profile.pick(quick=..., full=...).",
              reference=_epochs_for, title_zh="按配置决定实验规模",
              hint_zh="Profile 对象可以回答 profile.pick(quick=..., full=...)。")
