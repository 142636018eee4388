"""Unit tests for utils/widgets.py: each widget is built, moved from code, and read back.

One test function per widget, named after it, so chapters can add theirs alongside.
"""
import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from utils.widgets import neuron_explorer  # noqa: E402


def test_neuron_explorer_names_the_gate_and_follows_the_sliders():
    box = neuron_explorer()  # w = (1, 1), b = -1.5: AND
    assert "<b>AND</b>" in box.text.value and "4 of 4 rows right" in box.text.value
    assert box.image.value[:8] == b"\x89PNG\r\n\x1a\n"
    first_image = box.image.value

    box.b.value = -0.5  # the line slides towards the origin: OR
    assert "<b>OR</b>" in box.text.value and "Target AND: 2 of 4 rows right" in box.text.value
    assert box.image.value != first_image

    box.w1.value, box.w2.value, box.b.value = -1.0, -1.0, 1.5  # every sign flipped: NAND
    assert "<b>NAND</b>" in box.text.value


def test_neuron_explorer_target_dropdown_and_ties():
    box = neuron_explorer(w1=1.0, w2=1.0, b=-1.0, target="XOR")
    # (0, 1) and (1, 0) sit exactly on the line; the ≥ 0 convention makes them +1, so OR.
    assert "<b>OR</b>" in box.text.value and "exactly on the line" in box.text.value
    assert "Target XOR: 3 of 4 rows right" in box.text.value
    box.target.value = "OR"
    assert "Target OR: 4 of 4 rows right" in box.text.value
    box.w1.value, box.w2.value, box.b.value = 0.3, 0.3, -0.3  # decimal steps: 0.3 − 0.3 is a tie, not −5e-17
    assert "exactly on the line" in box.text.value and "<b>OR</b>" in box.text.value


def test_neuron_explorer_rejects_an_unknown_target():
    with pytest.raises(ValueError, match="not one of the gates"):
        neuron_explorer(target="IMPLIES")


def test_two_input_functions_name_all_sixteen_tables():
    from itertools import product

    from utils.widgets import TWO_INPUT_FUNCTIONS

    assert set(TWO_INPUT_FUNCTIONS) == set(product([-1, 1], repeat=4))
    assert len(set(TWO_INPUT_FUNCTIONS.values())) == 16
    inputs = list(product([0, 1], repeat=2))  # 00, 01, 10, 11
    as_table = lambda f: tuple(1 if f(a, b) else -1 for a, b in inputs)  # noqa: E731
    assert TWO_INPUT_FUNCTIONS[as_table(lambda a, b: a and b)] == "AND"
    assert TWO_INPUT_FUNCTIONS[as_table(lambda a, b: a != b)] == "XOR"
    assert TWO_INPUT_FUNCTIONS[as_table(lambda a, b: a and not b)] == "x₁ AND NOT x₂"
    assert TWO_INPUT_FUNCTIONS[as_table(lambda a, b: (not a) or b)] == "NOT x₁ OR x₂"
