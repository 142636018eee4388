"""utils/metrics.py: the ROC curve and AUC written from scratch agree with scikit-learn's, ties
included, and with the rank (Mann–Whitney) formula; TPR at a fixed FPR; one class is a clear error."""
import numpy as np
import pytest
import torch
from scipy.stats import rankdata
from sklearn.metrics import roc_auc_score
from sklearn.metrics import roc_curve as sklearn_roc_curve

from utils.metrics import ROC, roc_auc, roc_curve, tpr_at_fpr


def auc_by_ranks(scores, labels) -> float:
    """Mann–Whitney: (sum of the positives' ranks − n₊(n₊+1)/2) / (n₊ n₋), tied scores sharing their mean rank."""
    ranks = rankdata(scores)  # average ranks for ties
    positives = np.asarray(labels) == 1
    n_pos, n_neg = positives.sum(), (~positives).sum()
    return (ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def tied_cases():
    """Random scores with many ties (few distinct values), at several sizes and class balances."""
    for seed in range(12):
        rng = np.random.default_rng(seed)
        n = int(rng.integers(5, 400))
        scores = rng.integers(0, int(rng.integers(2, 12)), size=n) / 4.0  # 2–11 distinct values
        labels = (rng.uniform(size=n) < rng.uniform(0.1, 0.9)).astype(int)
        labels[:2] = [0, 1]  # both classes, always
        yield scores, labels


@pytest.mark.parametrize("scores, labels", list(tied_cases()))
def test_roc_curve_matches_scikit_learn_with_ties(scores, labels):
    fpr, tpr, thresholds = roc_curve(torch.tensor(scores), torch.tensor(labels))
    want_fpr, want_tpr, want_thresholds = sklearn_roc_curve(labels, scores, drop_intermediate=False)
    assert np.allclose(fpr.numpy(), want_fpr) and np.allclose(tpr.numpy(), want_tpr)
    assert np.array_equal(thresholds.numpy()[1:], want_thresholds[1:]) and thresholds[0] == float("inf")
    assert len(fpr) == len(np.unique(scores)) + 1  # one point per distinct score: tied scores move together


@pytest.mark.parametrize("scores, labels", list(tied_cases()))
def test_auc_matches_scikit_learn_and_the_rank_formula(scores, labels):
    auc = roc_auc(scores, labels)
    assert auc == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    assert auc == pytest.approx(auc_by_ranks(scores, labels), abs=1e-12)


def test_a_tie_between_a_positive_and_a_negative_counts_half():
    assert roc_auc([0.5, 0.5], [1, 0]) == 0.5
    assert roc_auc([0.9, 0.5, 0.5, 0.1], [1, 1, 0, 0]) == pytest.approx(0.875)  # 3 pairs won, 1 tied: 3.5 / 4
    curve = roc_curve([0.9, 0.5, 0.5, 0.1], [1, 1, 0, 0])
    assert curve.tpr.tolist() == [0, 0.5, 1, 1] and curve.fpr.tolist() == [0, 0, 0.5, 1]  # one diagonal step
    assert curve.thresholds.tolist()[1:] == [0.9, 0.5, 0.1]


def test_auc_is_one_for_a_perfect_ranking_zero_for_a_reversed_one_and_ignores_the_scale():
    labels = [0, 0, 1, 1, 0, 1]
    scores = torch.tensor([0.1, 0.2, 0.8, 0.9, 0.3, 0.7])
    assert roc_auc(scores, labels) == 1.0 and roc_auc(-scores, labels) == 0.0
    assert roc_auc(scores * 100 - 7, labels) == 1.0  # only the order counts: logits or probabilities alike
    assert isinstance(roc_curve(scores, labels), ROC)


def test_inputs_may_be_lists_arrays_or_tensors_of_any_dtype_and_the_curve_runs_from_0_to_1():
    scores, labels = [0.3, 0.8, 0.8, 0.1, 0.5], [0, 1, 0, 0, 1]
    want = roc_auc_score(labels, scores)
    for as_type in (list, np.array, torch.tensor):
        assert roc_auc(as_type(scores), as_type(labels)) == pytest.approx(want)
    assert roc_auc(torch.tensor(scores, dtype=torch.float16), torch.tensor(labels, dtype=torch.bool)) == pytest.approx(want)
    fpr, tpr, _ = roc_curve(scores, labels)
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0, 0, 1, 1)
    assert (fpr.diff() >= 0).all() and (tpr.diff() >= 0).all()


@pytest.mark.parametrize("labels, message", [
    ([1, 1, 1], r"all 3 labels are 1 \(positive, fake\).*undefined.*both real and fake"),
    ([0, 0, 0], r"all 3 labels are 0 \(negative, real\).*undefined"),
])
def test_one_class_only_is_a_clear_error(labels, message):
    for metric in (roc_curve, roc_auc, tpr_at_fpr):
        with pytest.raises(ValueError, match=message):
            metric([0.2, 0.5, 0.9], labels)


@pytest.mark.parametrize("scores, labels, message", [
    ([0.1, 0.2], [0, 1, 1], r"got 2 scores but 3 labels"),
    ([0.1, float("nan"), 0.3], [0, 1, 1], r"1 scores are not finite numbers \(the first, at index 1, is nan\)"),
    ([0.1, 0.2, 0.3], [0, 1, 2], r"labels must be 0 \(negative, real\) or 1 \(positive, fake\); got 2"),
    ([], [], r"no scores and labels were given"),
])
def test_bad_input_is_named(scores, labels, message):
    with pytest.raises(ValueError, match=message):
        roc_auc(scores, labels)


def test_tpr_at_fpr_is_the_highest_tpr_within_the_allowed_fpr():
    # 10 negatives at 0.0 … 0.9, 10 positives: FPR steps by 0.1 as the threshold passes each negative
    negatives = np.arange(10) / 10
    positives = np.array([0.95, 0.93, 0.91, 0.85, 0.75, 0.65, 0.55, 0.45, 0.35, 0.25])
    scores, labels = np.concatenate([negatives, positives]), np.r_[np.zeros(10), np.ones(10)]
    assert tpr_at_fpr(scores, labels, fpr=0.05) == 0.3  # above every negative: 3 of 10
    assert tpr_at_fpr(scores, labels, fpr=0.1) == 0.4  # one negative (0.9) may be flagged: 0.85 joins
    assert tpr_at_fpr(scores, labels, fpr=0.35) == 0.6  # three negatives flagged (0.9, 0.8, 0.7)
    assert tpr_at_fpr(scores, labels, fpr=0.999) == 1.0


def test_tpr_at_fpr_with_fewer_than_one_over_fpr_negatives_is_the_tpr_at_fpr_0():
    rng = np.random.default_rng(0)
    scores = np.r_[rng.normal(0, 1, 500), rng.normal(2, 1, 500)]
    labels = np.r_[np.zeros(500), np.ones(500)]
    above_all = (scores[500:] > scores[:500].max()).mean()
    assert tpr_at_fpr(scores, labels, fpr=1e-3) == above_all  # 500 negatives < 1000: only FPR 0 is allowed
    assert tpr_at_fpr(scores, labels, fpr=2e-3) > above_all  # 1/500 is now allowed: one more threshold


def test_tpr_at_fpr_counts_exactly_one_in_a_thousand():
    scores = np.r_[np.arange(1000) / 1000, [0.9985, 2.0]]  # the best negative (0.999) lies between the positives
    labels = np.r_[np.zeros(1000), [1, 1]]
    assert tpr_at_fpr(scores, labels, fpr=1e-3) == 1.0  # FPR 1/1000 is within 1e-3 despite rounding
    assert tpr_at_fpr(scores, labels, fpr=0.9e-3) == 0.5


@pytest.mark.parametrize("fpr", [0, 1, -0.1, 1.5])
def test_tpr_at_fpr_needs_a_rate_between_0_and_1(fpr):
    with pytest.raises(ValueError, match=r"give the largest false-positive rate allowed"):
        tpr_at_fpr([0.1, 0.9], [0, 1], fpr=fpr)
