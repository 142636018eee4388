"""Ranking metrics for a detector that outputs a score: the ROC curve, its AUC, and TPR at a fixed FPR.

Introduced in chapter 14 (the deepfake-detection capstone), whose challenge is scored by ROC-AUC.
A detector gives every image a score (higher means "more likely fake"); sweeping a threshold
down through the scores traces the ROC curve (ROC 曲线): at each threshold, the true-positive
rate TPR (fakes caught / all fakes) against the false-positive rate FPR (real images flagged /
all real images). Its area, the AUC, is the probability that a random fake scores above a random
real image, with a tie counted as half.

Written from scratch with a sort, and agreeing with scikit-learn's ``roc_curve`` (with
``drop_intermediate=False``) and ``roc_auc_score``: images with the same score cross the
threshold together, so a run of tied scores is one diagonal step of the curve, whose area
counts each tied fake–real pair as half. Scores and labels may be tensors, arrays or lists;
labels are 1 (positive: fake) and 0 (negative: real).
"""
from __future__ import annotations

import math
from typing import NamedTuple

import torch

__all__ = ["ROC", "roc_auc", "roc_curve", "tpr_at_fpr"]


class ROC(NamedTuple):
    """The points of a ROC curve, from (0, 0) to (1, 1), as float64 tensors of one length.

    ``thresholds[i]`` is the lowest score flagged as positive at point i (the first is +inf:
    nothing flagged).
    """

    fpr: torch.Tensor
    tpr: torch.Tensor
    thresholds: torch.Tensor


def _checked(scores, labels) -> tuple[torch.Tensor, torch.Tensor]:
    """Scores and labels as flat float64 and bool tensors, or a ValueError that says what is wrong."""
    scores = torch.as_tensor(scores, dtype=torch.float64, device="cpu").detach().flatten()
    labels = torch.as_tensor(labels).detach().cpu().flatten()
    if len(scores) != len(labels):
        raise ValueError(f"got {len(scores)} scores but {len(labels)} labels: give one score per label, "
                         "in the same order")
    if not torch.isfinite(scores).all():
        bad = (~torch.isfinite(scores)).nonzero().flatten()
        raise ValueError(f"{len(bad)} scores are not finite numbers (the first, at index {bad[0].item()}, is "
                         f"{scores[bad[0]].item()}): a NaN or inf cannot be ranked. Check the model's outputs "
                         "(a diverged training gives NaN).")
    if labels.dtype != torch.bool:
        other = labels[(labels != 0) & (labels != 1)]
        if len(other):
            raise ValueError(f"labels must be 0 (negative, real) or 1 (positive, fake); got {other[0].item()!r}. "
                             "Pass the targets, not the predicted classes or the class names.")
    positives = labels == 1
    if not len(labels):
        raise ValueError("no scores and labels were given: ROC and AUC need scores for both real and fake images")
    if positives.all() or not positives.any():
        kind = "1 (positive, fake)" if positives.all() else "0 (negative, real)"
        raise ValueError(f"all {len(labels)} labels are {kind}: ROC and AUC compare positives with negatives, "
                         "so with one class they are undefined. Evaluate on a set that holds both real and fake "
                         "images.")
    return scores, positives


def roc_curve(scores, labels) -> ROC:
    """The ROC curve of ``scores`` for binary ``labels`` (1 = positive): ROC(fpr, tpr, thresholds).

    Sort by score, highest first; walk down, and after each run of equal scores (they cross the
    threshold together) record the fraction of positives and of negatives seen so far. The first
    point is (0, 0) with threshold +inf. Every point is kept (as scikit-learn's
    ``roc_curve(..., drop_intermediate=False)``). Raises ValueError for mismatched lengths,
    non-finite scores, labels other than 0/1, or labels of one class only. Introduced in chapter 14.
    """
    scores, positives = _checked(scores, labels)
    order = torch.argsort(scores, descending=True, stable=True)
    scores, positives = scores[order], positives[order]
    last_of_run = torch.ones(len(scores), dtype=torch.bool)
    last_of_run[:-1] = scores[1:] != scores[:-1]
    true_pos = torch.cumsum(positives, 0, dtype=torch.float64)[last_of_run]
    false_pos = torch.cumsum(~positives, 0, dtype=torch.float64)[last_of_run]
    zero, inf = torch.zeros(1, dtype=torch.float64), torch.full((1,), math.inf, dtype=torch.float64)
    return ROC(torch.cat([zero, false_pos / false_pos[-1]]), torch.cat([zero, true_pos / true_pos[-1]]),
               torch.cat([inf, scores[last_of_run]]))


def roc_auc(scores, labels) -> float:
    """The area under the ROC curve (trapezoids): P(a random positive scores above a random negative).

    A tie between a positive and a negative counts as half, as in scikit-learn's
    ``roc_auc_score``. 1.0 is a perfect ranking, 0.5 is chance, below 0.5 is worse than chance
    (the scores point the wrong way). Raises ValueError as ``roc_curve`` does; with one class
    only the AUC is undefined. Introduced in chapter 14.
    """
    fpr, tpr, _ = roc_curve(scores, labels)
    return float(torch.trapezoid(tpr, fpr))


def tpr_at_fpr(scores, labels, fpr: float = 1e-3) -> float:
    """The highest TPR on the ROC curve whose FPR does not exceed ``fpr`` (default 1e-3).

    It answers "how many fakes are caught if at most one real image in 1/fpr may be flagged?".
    The curve's points are counts, so the FPRs reachable are multiples of 1/(number of
    negatives): with fewer than 1/fpr negatives the only FPR within the target is 0, and the
    result is the TPR at FPR = 0, the fraction of positives scored strictly above every
    negative. That is a pessimistic and coarse estimate (one real image with a high score
    sets it), so report the number of negatives beside it. Raises ValueError for an ``fpr``
    outside (0, 1), and as ``roc_curve`` does. Introduced in chapter 14.
    """
    if not 0 < fpr < 1:
        raise ValueError(f"fpr={fpr!r}: give the largest false-positive rate allowed, a number between 0 and 1 "
                         "(such as 1e-3 for one real image in a thousand)")
    curve = roc_curve(scores, labels)
    within = curve.fpr <= fpr * (1 + 1e-9)  # fpr is a count over the negatives: 1/1000 must pass 1e-3
    return float(curve.tpr[within].max())
