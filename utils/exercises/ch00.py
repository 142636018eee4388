"""Chapter 00 (setup) exercises: tensors on the right device, reproducible randomness, profiles."""
import torch

from utils.env import Profile
from utils.exercises import Question, call, require


def _to_course_device(x, device):
    return x.to(device=device, dtype=torch.float32)


def _check_to_course_device(fn):
    x = torch.tensor([[1, 2], [3, 4]])
    out = call(fn, x, torch.device("cpu"), name="to_course_device")
    require(torch.is_tensor(out), f"return a tensor, not a {type(out).__name__}")
    require(out.shape == x.shape, f"the shape changed from {tuple(x.shape)} to {tuple(out.shape)}: "
                                  "moving a tensor must not reshape it")
    require(out.dtype == torch.float32, f"dtype is {out.dtype}, expected torch.float32: integer tensors "
                                        "cannot carry gradients. Use .float() or .to(dtype=torch.float32)")
    require(out.device.type == "cpu", f"the tensor is on {out.device}, expected the device you were given")
    require(torch.equal(out, x.float()), "the values changed: convert the type, keep the numbers")
    # On a CPU-only machine "cpu" is also where a device-blind answer lands; PyTorch's "meta" device
    # (shapes, no data) exists everywhere and tells the two apart.
    moved = call(fn, x, torch.device("meta"), name="to_course_device")
    require(torch.is_tensor(moved) and moved.device.type == "meta",
            f"asked for the 'meta' device, the tensor came back on {getattr(moved, 'device', '?')}: use the "
            "device you were given (x.to(device=device, ...)), not a fixed one like 'cpu' or 'cuda'")


q1 = Question("q1", "a tensor on the course's device", _check_to_course_device,
              hint="One call does both: tensor.to(device=..., dtype=...).",
              reference=_to_course_device)


def _seeded_sample(seed, n):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, generator=generator)


def _check_seeded_sample(fn):
    state = torch.get_rng_state()
    first = call(fn, 7, 5, name="seeded_sample")
    global_untouched = torch.equal(state, torch.get_rng_state())
    require(torch.is_tensor(first), f"return a tensor, not a {type(first).__name__}")
    require(first.shape == (5,), f"shape {tuple(first.shape)}, expected (5,): n numbers in one row")
    require(torch.equal(first, call(fn, 7, 5, name="seeded_sample")),
            "two calls with the same seed gave different numbers: seed before you draw")
    require(not torch.equal(first, call(fn, 8, 5, name="seeded_sample")),
            "seeds 7 and 8 gave the same numbers: is the seed you were given really used?")
    require(first.dtype == torch.float32, f"dtype is {first.dtype}, expected torch.float32 (what torch.randn gives)")
    expected = _seeded_sample(7, 5)
    uniform = bool(((first >= 0) & (first < 1)).all())
    require(torch.equal(first, expected) or not uniform,
            "every number lies in [0, 1): that is torch.rand (uniform); a standard normal comes from torch.randn")
    require(torch.equal(first, expected),
            f"got {[round(v, 4) for v in first.tolist()]}, expected {[round(v, 4) for v in expected.tolist()]} "
            "for seed 7: draw with torch.randn(n, generator=...) "
            "from a torch.Generator seeded with `seed`")
    require(global_untouched, "right numbers, but your function reseeded the notebook's global random "
                              "stream (torch.manual_seed), so every later cell now draws different numbers. "
                              "Use a generator of your own: torch.Generator().manual_seed(seed)")


q2 = Question("q2", "reproducible randomness", _check_seeded_sample,
              hint="Make a torch.Generator, seed it, and pass generator=... to torch.randn.",
              reference=_seeded_sample)


def _epochs_for(profile):
    return profile.pick(quick=3, full=30)


def _check_epochs_for(fn):
    quick = call(fn, Profile("quick", "exercise"), name="epochs_for")
    full = call(fn, Profile("full", "exercise"), name="epochs_for")
    require(isinstance(quick, int) and isinstance(full, int),
            f"return whole numbers of epochs; got {type(quick).__name__} and {type(full).__name__}")
    require(quick != full, f"both profiles gave {quick}: the quick profile should train less than the full one")
    require((quick, full) != (30, 3), "the two are swapped: quick is 3 epochs, full is 30")
    require((quick, full) == (3, 30), f"got quick={quick}, full={full}; expected 3 and 30")


q3 = Question("q3", "sizing an experiment by profile", _check_epochs_for,
              hint="A Profile answers profile.pick(quick=..., full=...).",
              reference=_epochs_for)
