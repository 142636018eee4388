"""Chapter 01 checkers: the catalogue of wrong answers a learner really writes, and what else must hold."""
import itertools

import pytest
import torch

from tests.exercise_testing import report_only, stub, verdict  # noqa: F401  (report_only is an autouse fixture)
from utils.exercises import ch01 as ex
from utils.exercises import checks

T = torch.tensor


def neuron(X, w, b):
    return torch.where(X @ w + b >= 0, 1.0, -1.0)


# q1: McCulloch and Pitts' own unit --------------------------------------------------------------

def relative_inhibition(X, inhibitory, theta):
    w = torch.where(inhibitory, -1.0, 1.0)  # the modern form: an inhibitory weight of −1
    return (X @ w >= theta).float()


def every_inhibitory_input_needed(X, inhibitory, theta):
    excitation = X[:, ~inhibitory].sum(dim=1)
    return ((excitation >= theta) & ~X[:, inhibitory].bool().all(dim=1)).float()


def as_sign_neuron(X, inhibitory, theta):
    fires = (X[:, ~inhibitory].sum(dim=1) >= theta) & (X[:, inhibitory].sum(dim=1) == 0)
    return torch.where(fires, 1.0, -1.0)


def loops_over_the_rows_from_the_first_case(X, inhibitory, theta):
    """Written for the first case (x₃ inhibitory) and never generalised."""
    return T([float(x[0] + x[1] >= theta and x[2] == 0) for x in X])


def only_the_visible_cases(X, inhibitory, theta):
    if X.shape[1] <= 5:
        return ex._mp_unit(X, inhibitory, theta)
    return (X[:, ~inhibitory].sum(dim=1) >= theta).float()


# q2: a neuron for any two-input gate -------------------------------------------------------------

PAIRS = T([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
WEIGHTS = [T([w1, w2]) for w1, w2 in itertools.product([-2.0, -1.0, 0.0, 1.0, 2.0], repeat=2)]


def search(table, biases, weights=WEIGHTS, inputs=PAIRS):
    for w in weights:
        for b in biases:
            if torch.equal(neuron(inputs, w, b), table):
                return w, b
    raise ValueError(f"no single neuron computes {table.tolist()}")


def whole_number_biases(table):  # ties: a bias of −1 puts 01 and 10 exactly on AND's line
    return search(table, [-2.0, -1.0, 0.0, 1.0, 2.0])


def positive_weights_only(table):
    return search(table, [-2.5, -1.5, -0.5, 0.5], weights=[w for w in WEIGHTS if (w >= 0).all()])


def negated(table):
    w, b = ex._find_gate(table)
    return -w, -b


def reads_x2_first(table):
    w, b = ex._find_gate(table)
    return w.flip(0), b


def reads_the_table_backwards(table):
    return ex._find_gate(table.flip(0))


def best_effort_for_xor(table):
    try:
        return ex._find_gate(table)
    except ValueError:
        return T([1.0, 1.0]), -0.5  # OR: three of XOR's four rows


def none_for_xor(table):
    try:
        return ex._find_gate(table)
    except ValueError:
        return None


def silent_value_error(table):
    try:
        return ex._find_gate(table)
    except ValueError:
        raise ValueError() from None


def wrong_exception(table):
    try:
        return ex._find_gate(table)
    except ValueError:
        raise RuntimeError("not linearly separable") from None


def searches_forever(table):
    while True:
        try:
            return ex._find_gate(table)
        except ValueError:
            continue


def only_the_visible_tables(table):
    if table.tolist() == [-1.0, 1.0, -1.0, -1.0]:
        return T([1.0, 1.0]), -1.5
    return ex._find_gate(table)


# q3: majority of n ---------------------------------------------------------------------------------

def only_the_visible_sizes(n):
    return torch.ones(n), -n / 2 if n < 9 else -n / 2 - 1


# q4: three-input parity ------------------------------------------------------------------------------

AT_LEAST = (torch.ones(3, 3), T([-0.5, -1.5, -2.5]))
#: The same network with hidden neuron k's weights scaled by k, so that W1 is not symmetric.
SCALED = (T([[1.0, 1.0, 1.0], [2.0, 2.0, 2.0], [3.0, 3.0, 3.0]]), T([-0.5, -3.5, -7.5]), T([1.0, -1.0, 1.0]), 0.0)


def odd_minterms_with_a_01_or():
    """Four hidden neurons detect 001, 010, 100 and 111; the output is OR, built for 0/1 hidden outputs."""
    W1 = T([[-1.0, -1.0, 1.0], [-1.0, 1.0, -1.0], [1.0, -1.0, -1.0], [1.0, 1.0, 1.0]])
    return W1, T([-0.5, -0.5, -0.5, -2.5]), torch.ones(4), -0.5


CATALOGUE = {
    "q1": [
        (lambda X, i, theta: ((X[:, ~i].sum(dim=1) > theta) & (X[:, i].sum(dim=1) == 0)).float(),
         "reaches the threshold (≥ θ)"),
        (relative_inhibition, "inhibition is absolute"),
        (lambda X, i, theta: (X[:, ~i].sum(dim=1) >= theta).float(), "the inhibitory inputs were ignored"),
        (lambda X, i, theta: (X.sum(dim=1) >= theta).float(), "counted the inhibitory inputs as excitation"),
        (lambda X, i, theta: ex._mp_unit(X, ~i, theta), "the mask is read the wrong way round"),
        (every_inhibitory_input_needed, "any, not all"),
        (lambda X, i, theta: 1 - ex._mp_unit(X, i, theta), "every output is flipped"),
        (lambda X, i, theta: ((X[:, ~i].sum(dim=1) + theta >= 0) & (X[:, i].sum(dim=1) == 0)).float(),
         "you added θ"),
        (as_sign_neuron, "fires (1) or stays silent (0)"),
        (lambda X, i, theta: torch.sign(X[:, ~i].sum(dim=1) - theta) + 1, "must be 0 or 1"),
        (lambda X, i, theta: ex._mp_unit(X, i, theta)[:, None], "should have shape (N,)"),
        (loops_over_the_rows_from_the_first_case, "raised"),
        (only_the_visible_cases, "kept hidden"),
        (lambda X, i, theta: T([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0]), "is the result hard-coded"),
    ],
    "q2": [
        (negated, "its +1 and −1 sides are swapped"),
        (reads_x2_first, "w₁ and w₂ are swapped"),
        (reads_the_table_backwards, "you read the table backwards"),
        (whole_number_biases, "exactly on your neuron's line"),
        (lambda table: (ex._find_gate(table)[0], 0.0), "with b = 0 the input 00"),
        (positive_weights_only, "only XOR and XNOR have none"),
        (best_effort_for_xor, "no single neuron computes it"),
        (none_for_xor, "returned None, but no single neuron"),
        (silent_value_error, "ValueError without a message"),
        (wrong_exception, "raised RuntimeError"),
        (lambda table: (T([1.0, 1.0]), -1.5), "is the result hard-coded"),
        (only_the_visible_tables, "kept hidden"),
        (lambda table: torch.cat([ex._find_gate(table)[0], T([ex._find_gate(table)[1]])]), "should return 2 things"),
        (lambda table: (T([1.0, 1.0, 0.0]), -1.5), "needs 2 weights"),
    ],
    "q3": [
        (lambda n: (torch.full((n,), 0.5), -0.6), "chosen for three inputs"),
        (lambda n: (torch.ones(n), -(n - 1) / 2), "exactly on the 3-input neuron's line"),
        (lambda n: (torch.ones(n), -(n + 1) / 2), "exactly on the 3-input neuron's line"),
        (lambda n: (torch.ones(n), -n / 2 - 1), "the threshold is too high"),
        (lambda n: (torch.ones(n), -n / 2 + 1), "the threshold is too low"),
        (lambda n: (torch.ones(n), n / 2), "it must be below 0"),
        (lambda n: (-torch.ones(n), n / 2), "computes minority"),
        (lambda n: (torch.ones(3), -1.5), "needs 5 weights"),
        (lambda n: (torch.ones(n), torch.full((n,), -n / 2)), "the bias is one number"),
        (lambda n: torch.ones(n + 1), "should return 2 things"),
        (only_the_visible_sizes, "kept hidden"),
    ],
    "q4": [
        (lambda: (*AT_LEAST, T([-1.0, 1.0, -1.0]), 0.0), "even parity"),
        (odd_minterms_with_a_01_or, "designed for hidden outputs of 0 and 1"),
        (lambda: (SCALED[0].T, *SCALED[1:]), "W1 is transposed"),
        (lambda: (T([[1.0, 1.0, 0.0], [-1.0, -1.0, 0.0]]), T([-0.5, 1.5]), T([1.0, 1.0]), -1.5), "ignores x₃"),
        (lambda: (torch.ones(3, 3), T([-0.5, -1.0, -2.5]), T([1.0, -1.0, 1.0]), 0.0), "hidden neuron 2's line"),
        (lambda: (*AT_LEAST, T([1.0, -1.0, 1.0]), -1.0), "the output neuron's line"),
        (lambda: (*AT_LEAST, T([1.0, 1.0, 1.0]), 0.0), "Parity alternates"),
        (lambda: (torch.ones(2, 2), T([-0.5, -1.5]), T([1.0, -1.0]), 0.0), "shape (k, 3)"),
        (lambda: (torch.ones(3, 4), T([-0.5, -1.5, -2.5]), T([1.0, -1.0, 1.0]), 0.0), "Transpose it"),
        (lambda: (torch.ones(4, 3), T([-0.5, -1.5, -2.5]), T([1.0, -1.0, 1.0]), 0.0), "need 4 entries each"),
        (lambda: (*AT_LEAST, T([1.0, -1.0, 1.0]), T([0.0, 0.0])), "b2, the output neuron's bias, is one number"),
        (lambda: (*AT_LEAST, T([1.0, -1.0, 1.0])), "should return 4 things"),
    ],
}


# what the catalogue cannot say ---------------------------------------------------------------------

@pytest.mark.parametrize("answer", [
    lambda X, inhibitory, theta: (X[:, ~inhibitory].sum(dim=1) >= theta) & ~X[:, inhibitory].bool().any(dim=1),
    lambda X, inhibitory, theta: torch.where(X @ inhibitory.float() > 0, 0.0,
                                             (X @ (~inhibitory).float() >= theta).float()),
])
def test_q1_accepts_a_boolean_or_a_matrix_product_answer(answer):
    assert ex.q1.check(answer).passed


def test_q1_a_negative_weight_is_only_right_where_inhibition_cannot_be_outweighed():
    # the modern, relative form agrees with the 1943 unit on the chapter's first case, and fails elsewhere
    first = ex.q1._checker.cases[0]
    assert torch.equal(relative_inhibition(*first.args), ex._mp_unit(*first.args))
    assert verdict(ex.q1, relative_inhibition)[0] == "incorrect"


@pytest.mark.parametrize("answer", [
    lambda table: search(table, [-2.5, -1.5, -0.5, 0.5, 1.5, 2.5]),
    lambda table: search(table, torch.linspace(-2.45, 2.45, 50).tolist()),  # a fine grid that avoids 0
])
def test_q2_accepts_any_search_that_keeps_off_the_line(answer):
    assert ex.q2.check(answer).passed


def test_q2_stops_a_search_that_never_ends(monkeypatch):
    monkeypatch.setattr(checks, "TIME_LIMIT", 1)
    status, text = verdict(ex.q2, searches_forever)
    assert status == "incorrect" and "still running" in text, text


def test_q3_accepts_weights_that_average():
    assert ex.q3.check(lambda n: (torch.ones(n) / n, -0.5)).passed


@pytest.mark.parametrize("answer", [
    lambda: (*AT_LEAST, T([1.0, -1.0, 1.0]), 0.0),
    lambda: SCALED,
    lambda: (AT_LEAST[0].tolist(), AT_LEAST[1].tolist(), [2.0, -2.0, 2.0], 0.5),  # plain lists, scaled
    lambda: (T([[-1.0, -1.0, 1.0], [-1.0, 1.0, -1.0], [1.0, -1.0, -1.0], [1.0, 1.0, 1.0]]),
             T([-0.5, -0.5, -0.5, -2.5]), torch.ones(4), 2.5),  # the minterms, with an OR made for ±1 inputs
])
def test_q4_accepts_other_constructions(answer):
    assert ex.q4.check(answer).passed


@pytest.mark.parametrize("question", [ex.q1, ex.q2, ex.q3, ex.q4])
def test_a_stub_or_nothing_is_not_attempted(question):
    assert verdict(question, stub)[0] == "not attempted"
    assert verdict(question, None)[0] == "not attempted"


def test_hints_and_solutions_print(capsys):
    for question in (ex.q1, ex.q2, ex.q3, ex.q4):
        question.hint()
        question.solution()
    printed = capsys.readouterr().out
    assert "def mp_unit(" in printed and "def find_gate(" in printed and "def parity_network(" in printed
    assert "Hint for q4" in printed
