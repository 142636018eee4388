"""Chapter 14 checkers: the catalogue of wrong answers a learner really writes, and what else must hold."""
import csv
import io

import pytest
import torch
import torch.nn.functional as F

from tests.exercise_testing import report_only, stub, verdict  # noqa: F401  (report_only is an autouse fixture)
from utils.exercises import ch14 as ex
from utils.metrics import roc_auc


# q1: AUC by the rank formula ---------------------------------------------------------------------

def auc_by_counting_pairs(scores, labels):
    """The same number from its definition: every (fake, real) pair, a tie as half."""
    fakes, reals = scores[labels == 1], scores[labels == 0]
    if not len(fakes) or not len(reals):
        raise ValueError("both classes are needed")
    wins = (fakes[:, None] > reals[None, :]).double() + 0.5 * (fakes[:, None] == reals[None, :]).double()
    return wins.mean()


def auc_with_sorting(scores, labels):
    """Average ranks from a sort, runs of ties found by unique_consecutive: what a careful learner writes."""
    if labels.min() == labels.max():
        raise ValueError("one class only")
    values, order = torch.sort(scores)
    _, counts = torch.unique_consecutive(values, return_counts=True)
    ends = torch.cumsum(counts, 0).double()
    run_ranks = ends - (counts.double() - 1) / 2
    ranks = torch.empty_like(ends.new_empty(len(scores)))
    ranks[order] = torch.repeat_interleave(run_ranks, counts)
    n_pos = int(labels.sum())
    n_neg = len(labels) - n_pos
    return (ranks[labels == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def auc_that_divides_by_zero(scores, labels):
    n_pos = int(labels.sum())
    n_neg = len(labels) - n_pos
    return (ex._average_ranks(scores)[labels == 1].sum().item() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def auc_that_returns_nan_for_one_class(scores, labels):
    n_pos = labels.sum()
    n_neg = len(labels) - n_pos
    return (ex._average_ranks(scores)[labels == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def auc_from_the_course(scores, labels):
    return roc_auc(scores, labels)


def auc_as_a_tensor_of_shape_two(scores, labels):
    return torch.tensor([ex._auc_by_ranks(scores, labels)] * 2)


# q2: the first problem in a label file --------------------------------------------------------------

def first_problem_with_csv(text):
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    if not rows or rows[0] != ["img_name", "target"]:
        return (1, "header")
    seen = set()
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != 2:
            return (number, "columns")
        if row[1] not in ("0", "1"):
            return (number, "label")
        if row[0] in seen:
            return (number, "duplicate")
        seen.add(row[0])
    return (0, "ok")


def problem_as_a_message(text):
    found = ex._first_problem(text)
    return f"line {found[0]}: {found[1]}"


def problem_with_another_word(text):
    number, kind = ex._first_problem(text)
    return (number, {"columns": "column count"}.get(kind, kind))


def none_for_a_good_file(text):
    found = ex._first_problem(text)
    return None if found == ex.GOOD else found


def checks_in_another_order(text):
    """The duplicate is looked for before the label, so a repeated name with a bad label says 'duplicate'."""
    lines = text.removeprefix("\ufeff").splitlines()
    if not lines or lines[0] != "img_name,target":
        return (1, "header")
    seen = set()
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split(",")
        if len(fields) != 2:
            return (number, "columns")
        if fields[0] in seen:
            return (number, "duplicate")
        if fields[1] not in ("0", "1"):
            return (number, "label")
        seen.add(fields[0])
    return (0, "ok")


def whole_file_read_with_the_course(text):
    from utils import ffdi
    return ffdi.read_labels(text)


# q3: the high-pass residual ----------------------------------------------------------------------

def high_pass_channel_by_channel(images, kernel):
    size = kernel.shape[-1]
    padded = F.pad(images, (size // 2, size // 2, size // 2, size // 2), mode="replicate")
    return torch.cat([F.conv2d(padded[:, c:c + 1], kernel[None, None]) for c in range(images.shape[1])], 1)


def high_pass_with_a_module(images, kernel):
    channels, size = images.shape[1], kernel.shape[-1]
    layer = torch.nn.Conv2d(channels, channels, size, padding=size // 2, padding_mode="replicate", groups=channels,
                            bias=False)
    with torch.no_grad():
        layer.weight.copy_(kernel.expand_as(layer.weight))
    return layer(images).detach()


def high_pass_with_a_bias(images, kernel):
    channels, size = images.shape[1], kernel.shape[-1]
    torch.manual_seed(0)
    layer = torch.nn.Conv2d(channels, channels, size, padding=size // 2, padding_mode="replicate", groups=channels)
    with torch.no_grad():
        layer.weight.copy_(kernel.expand_as(layer.weight))
    return layer(images).detach()


def high_pass_padding_one(images, kernel):
    return ex._padding_one(images, kernel)


def high_pass_in_place(images, kernel):
    images -= images.mean()
    return ex._high_pass(images, kernel)


CATALOGUE = {
    "q1": [
        (ex._ordinal_ranks, "tied scores got different ranks"),
        (ex._ties_as_wins, "a tie counts as a win for the fake image"),
        (ex._ties_as_losses, "a tie counts as a loss for the fake image"),
        (ex._zero_based_ranks, "the ranks start at 0"),
        (ex._wrong_subtraction, "the term subtracted from the rank sum is off"),
        (ex._classes_swapped, "your AUC is 1 − the right one"),
        (ex._not_normalised, "this is the Mann–Whitney count U"),
        (ex._over_all_pairs, "you divided by the number of all pairs of images"),
        (ex._accuracy_at_half, "this is the accuracy at a threshold of 0.5"),
        (auc_that_divides_by_zero, "fails by accident (ZeroDivisionError)"),
        (auc_that_returns_nan_for_one_class, "but the AUC is undefined then"),
        (auc_from_the_course, "uses `roc_auc`"),
        (auc_as_a_tensor_of_shape_two, "as one number"),
    ],
    "q2": [
        (ex._counted_from_zero, "the line numbers start at 0"),
        (ex._header_not_counted, "the line numbers skip the header"),
        (ex._kept_the_bom, "byte-order mark"),
        (ex._split_on_newlines, "and an empty string after the final line break"),
        (ex._split_on_newlines_skipping_empty, "so '0\\r' is not a label"),
        (ex._blank_lines_skipped, "a blank line in the middle is skipped"),
        (ex._labels_as_numbers, "a label such as '1.0' is accepted"),
        (ex._no_duplicate_check, "a name given twice passes"),
        (ex._duplicate_at_its_first_line, "the duplicate is reported at its first line"),
        (ex._split_once, "split(',', 1) keeps everything after the first comma"),
        (ex._header_not_checked, "the header is never checked"),
        (problem_as_a_message, "should return a pair (line number, problem)"),
        (problem_with_another_word, "the problem should be one of"),
        (none_for_a_good_file, "when the file has no problem, return (0, 'ok')"),
        (whole_file_read_with_the_course, "uses `read_labels`"),
    ],
    "q3": [
        (ex._no_padding, "the residual is smaller than the image"),
        (high_pass_padding_one, "the padding is fixed at 1"),
        (ex._mixed_channels, "one conv2d without groups mixes the colours"),
        (ex._grey_first, "the images were made grey before filtering"),
        (ex._flipped, "the kernel was flipped"),
        (ex._zero_padding, "the borders were padded with zeros"),
        (ex._reflected_edges, "the borders were padded by reflection"),
        (ex._kernel_rescaled, "the kernel was rescaled"),
        (ex._magnitude, "the residual's sign was dropped"),
        (ex._image_minus_filtered, "you returned the image minus the filtered image"),
        (high_pass_in_place, "changed its input (argument 1) in place"),
        (lambda images, kernel: ex._high_pass(images, kernel).tolist(), "as a tensor"),
    ],
}


@pytest.mark.parametrize("question, answer", [
    (ex.q1, ex._auc_by_ranks), (ex.q1, auc_by_counting_pairs), (ex.q1, auc_with_sorting),
    (ex.q2, ex._first_problem), (ex.q2, first_problem_with_csv),
    (ex.q3, ex._high_pass), (ex.q3, high_pass_channel_by_channel), (ex.q3, high_pass_with_a_module),
])
def test_right_answers_pass(question, answer):
    assert verdict(question, answer)[0] == "correct"


@pytest.mark.parametrize("question", [ex.q1, ex.q2, ex.q3])
def test_an_untouched_stub_is_not_attempted(question):
    assert verdict(question, stub)[0] == "not attempted"
    assert verdict(question, None)[0] == "not attempted"


def test_the_rank_formula_agrees_with_the_course_metric_on_every_case():
    for case in ex.q1._checker.cases:
        assert ex._auc_by_ranks(*case.args) == pytest.approx(roc_auc(*case.args), abs=1e-12)


def test_every_q1_case_but_the_first_has_ties_or_unbalanced_classes():
    for case in ex.q1._checker.cases[1:]:
        scores, labels = case.args
        assert len(scores.unique()) < len(scores) or labels.sum() * 2 != len(labels)


def test_q2_cases_cover_every_problem_and_a_good_windows_file():
    kinds = [ex._first_problem(case.args[0])[1] for case in ex.q2._checker.cases]
    assert set(kinds) == set(ex.PROBLEMS)
    windows = [case.args[0] for case in ex.q2._checker.cases if case.args[0].startswith("\ufeff")]
    assert any(ex._first_problem(text) == ex.GOOD for text in windows)


def test_checks_in_another_order_are_caught_only_where_the_order_matters():
    # duplicate-before-label is a legitimate order on these cases: no case holds a repeated name with a bad label
    assert verdict(ex.q2, checks_in_another_order)[0] == "correct"


def test_a_bias_left_in_the_layer_is_wrong():
    status, message = verdict(ex.q3, high_pass_with_a_bias)
    assert status == "incorrect" and "wrong result" in message


def test_only_the_learner_sees_the_hidden_case_fail():
    def right_on_the_visible_cases(scores, labels):
        return 0.5 if len(scores) == 25 else ex._auc_by_ranks(scores, labels)

    status, message = verdict(ex.q1, right_on_the_visible_cases)
    assert status == "incorrect" and "kept hidden" in message
