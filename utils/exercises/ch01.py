"""Chapter 01 (the M-P neuron) exercises: the threshold form, a NAND gate, majority of n, XOR from gates."""
import itertools

import torch

from utils.exercises import Question, Wrong, call, require
from utils.widgets import TWO_INPUT_FUNCTIONS

_PAIRS = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
_GATE_OUTPUTS = {name: torch.tensor(row, dtype=torch.float32) for row, name in TWO_INPUT_FUNCTIONS.items()}


def _binary_inputs(n):
    """All 2ⁿ binary inputs of n bits, one per row, in counting order."""
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=n)))


def _sign_neuron(X, w, b):
    return torch.where(X @ w + b >= 0, 1.0, -1.0)


def _as_weights_and_bias(answer, n, name):
    """Turn a learner's (w, b) into a float tensor of n weights and a float bias, or say what is off."""
    require(isinstance(answer, (tuple, list)) and len(answer) == 2,
            f"{name} should return two things, the weights and the bias: `return w, b`; "
            f"got {type(answer).__name__}")
    w, b = answer
    try:
        w = torch.as_tensor(w, dtype=torch.float32).reshape(-1)
        b = torch.as_tensor(b, dtype=torch.float32)
    except (TypeError, ValueError, RuntimeError) as error:
        raise Wrong(f"w and b must be numbers or tensors ({error}); e.g. "
                    f"`return torch.tensor([1.0, 1.0]), -1.5`") from None
    require(w.numel() == n, f"with {n} inputs the neuron needs {n} weights, one per input; your w has {w.numel()}")
    require(b.numel() == 1, f"the bias is one number; yours has {b.numel()} entries")
    return w, b.reshape(())


def _signed(x):
    """A number as the chapter writes it, with a true minus sign: outputs +1 and −1, bounds −2.5 and 0."""
    text = f"{x:+g}" if abs(x) == 1 else f"{x + 0.0:g}"  # + 0.0 turns −0 into 0
    return text.replace("-", "−")


def _outputs(y):
    return ", ".join(_signed(int(v)) for v in y)


# q1 ------------------------------------------------------------------------------------------

def _mp_neuron(X, w, theta):
    return (X @ w >= theta).float()


def _check_mp_neuron(fn):
    X, w, theta = _binary_inputs(3), torch.tensor([1.0, 1.0, 1.0]), 2.0
    out = call(fn, X, w, theta, name="mp_neuron")
    require(torch.is_tensor(out), f"return a tensor of outputs, not a {type(out).__name__}")
    require(out.shape == (8,), f"one output per input row: expected shape (8,), yours is {tuple(out.shape)}. "
                               "X @ w with w of shape (3,) gives exactly that; avoid a column vector (3, 1)")
    out = out.float()
    values = set(out.unique().tolist())
    require(-1.0 not in values, "you returned −1 for a silent neuron: McCulloch and Pitts' neuron fires (1) or "
                                "stays silent (0). The ±1 outputs belong to the sign neuron of this chapter")
    require(values <= {0.0, 1.0}, f"outputs must be 0 or 1; yours include {sorted(values)}. Compare the sum "
                                  "with θ (a True/False tensor) and turn it into numbers with .float()")
    total = X @ w
    if torch.equal(out, (total > theta).float()):
        raise Wrong("inputs whose weighted sum equals θ exactly did not fire: the neuron fires when the sum "
                    "reaches the threshold (≥ θ), not only when it exceeds it (> θ)")
    if torch.equal(out, (total + theta >= 0).float()):
        raise Wrong("you added θ: the threshold is subtracted, the neuron fires when Σ wᵢxᵢ − θ ≥ 0 "
                    "(that is why the bias of the sign neuron is b = −θ)")
    reference = _mp_neuron(X, w, theta)
    require(not torch.equal(out, 1 - reference), "every output is flipped: fire (1) when the sum reaches θ, "
                                                 "stay silent (0) below it")
    wrong_rows = [tuple(int(v) for v in X[i].tolist()) for i in torch.nonzero(out != reference).flatten()]
    require(not wrong_rows, f"with w = (1, 1, 1) and θ = 2 the inputs {wrong_rows} get the wrong output")
    X2, w2 = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]), torch.tensor([2.0, -1.0])
    out2 = call(fn, X2, w2, 1.5, name="mp_neuron").float()
    require(torch.equal(out2, _mp_neuron(X2, w2, 1.5)),
            "right for the 3-input example but not for a 2-input neuron with an inhibitory (negative) weight, "
            "w = (2, −1), θ = 1.5: use X, w and theta as given, nothing fixed to 3 inputs")


q1 = Question("q1", "McCulloch and Pitts' threshold neuron", _check_mp_neuron,
              hint="Compute the weighted sum of every row at once with X @ w, compare it with theta using >=, "
                   "and turn the True/False answers into 1/0 with .float().",
              reference=_mp_neuron)


# q2 ------------------------------------------------------------------------------------------

def _nand_gate():
    w = torch.tensor([-1.0, -1.0])
    b = 1.5  # half-way between one input on (z = 0.5) and both on (z = −0.5)
    return w, b


def _check_nand_gate(fn):
    w, b = _as_weights_and_bias(call(fn, name="nand_gate"), 2, "nand_gate")
    z = _PAIRS @ w + b
    y = _sign_neuron(_PAIRS, w, b)
    on_line = [tuple(int(v) for v in _PAIRS[i].tolist()) for i in torch.nonzero(z.abs() < 1e-6).flatten()]
    if not torch.equal(y, _GATE_OUTPUTS["NAND"]):
        name = next(n for n, row in _GATE_OUTPUTS.items() if torch.equal(row, y))
        advice = {"AND": "NAND is NOT AND: flip the sign of both weights and of the bias",
                  "NOR": "The line cuts too early: only (1, 1) should be on the −1 side; raise b",
                  "always +1": "The line misses the corner (1, 1): it must be on the −1 side; lower b"}
        tie = f" The inputs {on_line} lie exactly on the line, where the ≥ 0 convention says +1." if on_line else ""
        raise Wrong(f"your neuron computes {name} (outputs {_outputs(y)} for x = 00, 01, 10, 11), "
                    f"but NAND is +1, +1, +1, −1. "
                    + advice.get(name, "NAND is −1 only when both inputs are 1: the line must cut off "
                                       "the corner (1, 1) alone") + "." + tie)
    require(not on_line, f"right outputs, but the inputs {on_line} lie exactly on the line w·x + b = 0: "
                         "they come out +1 only because of the ≥ 0 convention, and torch.sign would give 0. "
                         "Move b half-way between the neighbouring sums so every input is clearly on one side")
    return "NAND is universal: any logic circuit can be built from NAND gates alone, so networks of " \
           "M-P neurons can compute any Boolean function, as McCulloch and Pitts argued."


q2 = Question("q2", "a NAND gate from one neuron", _check_nand_gate,
              hint="NAND is −1 only for (1, 1). Start from the AND neuron of this chapter and ask what "
                   "flipping the sign of w and b does to every weighted sum.",
              reference=_nand_gate)


# q3 ------------------------------------------------------------------------------------------

def _majority_neuron(n):
    w = torch.ones(n)
    b = -n / 2  # k ones give z = k − n/2: negative up to (n − 1)/2 ones, positive from (n + 1)/2
    return w, b


def _check_majority_neuron(fn):
    for n in (3, 5, 7, 1):  # the chapter's case first
        w, b = _as_weights_and_bias(call(fn, n, name="majority_neuron"), n, f"majority_neuron({n})")
        X = _binary_inputs(n)
        ones = X.sum(dim=1)
        z = X @ w + b
        y = _sign_neuron(X, w, b)
        wrong = torch.nonzero(y != torch.where(ones > n / 2, 1.0, -1.0)).flatten()
        if len(wrong):
            k, got = int(ones[wrong[0]]), int(y[wrong[0]])
            tie = " It lies exactly on the line (z = 0)." if z[wrong[0]] == 0 else ""
            low, high = _signed(-(n + 1) / 2), _signed(-(n - 1) / 2)
            carry = (" Your answer works for 3 inputs: do your w and b change with n?"
                     if n != 3 else "")
            raise Wrong(f"for n = {n}, an input with {k} of {n} ones gives {_signed(got)} but the majority "
                        f"says {_signed(-got)}.{tie} With every weight 1 the weighted sum counts the ones, so "
                        f"b must lie strictly between {low} and {high}.{carry}")
        require(not torch.any(z.abs() < 1e-6),
                f"for n = {n} some input lies exactly on the line w·x + b = 0: move b half-way between "
                "the neighbouring sums so no input depends on the convention at 0")


q3 = Question("q3", "majority of n inputs", _check_majority_neuron,
              hint="With every weight 1 the weighted sum counts the ones. Majority means more than n/2 ones: "
                   "where must the threshold −b sit?",
              reference=_majority_neuron)


# q4 ------------------------------------------------------------------------------------------

def _xor_two_layers(X):
    def neuron(inputs, w, b):  # +1 where w·x + b ≥ 0, else −1: the chapter's neuron
        return torch.where(inputs @ torch.tensor(w) + b >= 0, 1.0, -1.0)
    hidden = torch.stack([neuron(X, [1.0, 1.0], -0.5), neuron(X, [-1.0, -1.0], 1.5)], dim=1)  # OR, NAND
    return neuron((hidden + 1) / 2, [1.0, 1.0], -1.5)  # AND of the two, fed the 0/1 it was built for


def _check_xor_two_layers(fn):
    out = call(fn, _PAIRS.clone(), name="xor_two_layers")
    require(torch.is_tensor(out), f"return a tensor of outputs, not a {type(out).__name__}")
    require(out.shape == (4,), f"one output per input row: expected shape (4,), yours is {tuple(out.shape)}")
    out = out.float()
    values = set(out.unique().tolist())
    require(values <= {-1.0, 1.0}, f"outputs must be −1 or +1 like every neuron in this chapter; yours "
                                   f"include {sorted(values)}. A 0/1 answer y becomes ±1 as 2y − 1")
    if not torch.equal(out, _GATE_OUTPUTS["XOR"]):
        name = next(n for n, row in _GATE_OUTPUTS.items() if torch.equal(row, out))
        raise Wrong(f"your network computes {name} (outputs {_outputs(out)} for x = 00, 01, 10, 11), not XOR "
                    "(−1, +1, +1, −1). XOR = AND(OR, NAND). If your hidden neurons output ±1, the output "
                    "neuron sees −1 where its AND weights expect 0: map h to (h + 1) / 2 first, or choose "
                    "weights for ±1 inputs")
    batch = _PAIRS[[3, 0, 2, 1, 3, 1]]
    other = call(fn, batch, name="xor_two_layers")
    require(torch.is_tensor(other) and other.shape == (6,) and torch.equal(other.float(), _xor_two_layers(batch)),
            "right for the 4 rows in table order, but not for another batch (rows 11, 00, 10, 01, 11, 01): "
            "compute the outputs from X, do not return a fixed tensor")
    return "Two layers of neurons did what one cannot: chapter 03 learns such weights instead of choosing them."


q4 = Question("q4", "XOR from two layers of neurons", _check_xor_two_layers,
              hint="XOR is true when at least one input is on (OR) and not both are (NAND). Put an OR neuron "
                   "and a NAND neuron side by side, then feed their outputs to an AND neuron.",
              reference=_xor_two_layers)
