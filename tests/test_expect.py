"""The expected-result helper: in range, out of range, and under the tests."""
import math

import pytest
import torch

from utils.expect import ExpectationFailed, expect


def test_in_range_prints_a_tick(capsys):
    outcome = expect(torch.tensor(0.973), between=(0.96, 1.0), what="test accuracy")
    assert outcome and outcome.value == pytest.approx(0.973)
    assert capsys.readouterr().out.strip() == "✓ test accuracy = 0.973 (expected 0.96–1)"


def test_out_of_range_fails_the_run_under_tests(capsys):
    with pytest.raises(ExpectationFailed, match="test accuracy = 0.5, expected 0.96–1. Look at: the learning rate"):
        expect(0.5, between=(0.96, 1.0), what="test accuracy", hint="the learning rate")
    assert capsys.readouterr().out.startswith("✗ test accuracy")


def test_out_of_range_only_reports_for_a_learner(monkeypatch, capsys):
    monkeypatch.delenv("COURSE_TESTING")
    assert not expect(2, between=(0, 1), what="mistakes")
    assert "✗ mistakes = 2, expected 0–1." in capsys.readouterr().out


def test_bounds_are_inclusive_and_nan_never_passes(monkeypatch):
    assert expect(1, between=(0, 1), what="edge")
    monkeypatch.delenv("COURSE_TESTING")
    assert not expect(math.nan, between=(-math.inf, math.inf), what="loss")


def test_bad_arguments_are_explained():
    with pytest.raises(ValueError, match="lower bound is above"):
        expect(1, between=(2, 1), what="x")
    with pytest.raises(TypeError, match="one number"):
        expect([1, 2], between=(0, 3), what="x")
    with pytest.raises(TypeError, match="one number"):
        expect(True, between=(0, 3), what="x")


def test_a_timing_says_it_varies(capsys):
    expect(0.25, between=(0, 1), what="seconds per epoch", varies=True)
    assert capsys.readouterr().out.strip() == "✓ seconds per epoch = 0.25 (expected 0–1, a timing that varies from run to run)"
