"""Chapter 11 checkers: the catalogue of wrong answers a learner really writes, and what else must hold."""
import pytest
import torch
import torch.nn.functional as F
from torchvision.transforms import v2

from tests.exercise_testing import report_only, verdict  # noqa: F401  (report_only is an autouse fixture)
from utils.augment import mixup
from utils.exercises import ch11 as ex

# q1: a horizontal flip that keeps keypoints valid ---------------------------------------------------


def no_swap(image, keypoints, pairs):
    points = keypoints.clone()
    points[:, 0] = image.shape[-1] - 1 - keypoints[:, 0]
    return image.flip(-1), points


def off_by_one(image, keypoints, pairs):
    points = keypoints.clone()
    points[:, 0] = image.shape[-1] - keypoints[:, 0]
    for left, right in pairs:
        points[[left, right]] = points[[right, left]]
    return image.flip(-1), points


def negated(image, keypoints, pairs):
    points = keypoints.clone()
    points[:, 0] = -keypoints[:, 0]
    for left, right in pairs:
        points[[left, right]] = points[[right, left]]
    return image.flip(-1), points


def flips_y(image, keypoints, pairs):
    points = keypoints.clone()
    points[:, 1] = image.shape[-1] - 1 - keypoints[:, 1]
    for left, right in pairs:
        points[[left, right]] = points[[right, left]]
    return image.flip(-1), points


def upside_down(image, keypoints, pairs):
    flipped, points = ex._flip_with_keypoints(image, keypoints, pairs)
    return image.flip(-2), points


def channels_reversed(image, keypoints, pairs):
    _, points = ex._flip_with_keypoints(image, keypoints, pairs)
    return image.flip(0), points


def image_only(image, keypoints, pairs):
    return image.flip(-1), keypoints.clone()


def points_only(image, keypoints, pairs):
    _, points = ex._flip_with_keypoints(image, keypoints, pairs)
    return image.clone(), points


def uses_height(image, keypoints, pairs):
    points = keypoints.clone()
    points[:, 0] = image.shape[-2] - 1 - keypoints[:, 0]
    for left, right in pairs:
        points[[left, right]] = points[[right, left]]
    return image.flip(-1), points


def with_torchvision(image, keypoints, pairs):
    _, points = ex._flip_with_keypoints(image, keypoints, pairs)
    return v2.functional.horizontal_flip(image), points


def in_place(image, keypoints, pairs):
    keypoints[:, 0] = image.shape[-1] - 1 - keypoints[:, 0]
    for left, right in pairs:
        keypoints[[left, right]] = keypoints[[right, left]]
    return image.flip(-1), keypoints


# q2: mixup from scratch -----------------------------------------------------------------------------

def labels_kept(images, labels, partner, lam, num_classes):
    return lam * images + (1 - lam) * images[partner], F.one_hot(labels, num_classes).float()


def label_weights_swapped(images, labels, partner, lam, num_classes):
    one_hot = F.one_hot(labels, num_classes).float()
    return lam * images + (1 - lam) * images[partner], (1 - lam) * one_hot + lam * one_hot[partner]


def image_weights_swapped(images, labels, partner, lam, num_classes):
    one_hot = F.one_hot(labels, num_classes).float()
    return (1 - lam) * images + lam * images[partner], lam * one_hot + (1 - lam) * one_hot[partner]


def inverse_partner(images, labels, partner, lam, num_classes):
    index = torch.argsort(partner)
    one_hot = F.one_hot(labels, num_classes).float()
    return lam * images + (1 - lam) * images[index], lam * one_hot + (1 - lam) * one_hot[index]


def neighbour(images, labels, partner, lam, num_classes):
    one_hot = F.one_hot(labels, num_classes).float()
    return (lam * images + (1 - lam) * images.roll(1, 0), lam * one_hot + (1 - lam) * one_hot.roll(1, 0))


def both_lam(images, labels, partner, lam, num_classes):
    one_hot = F.one_hot(labels, num_classes).float()
    return lam * images + lam * images[partner], lam * one_hot + lam * one_hot[partner]


def no_num_classes(images, labels, partner, lam, num_classes):
    one_hot = F.one_hot(labels).float()
    return lam * images + (1 - lam) * images[partner], lam * one_hot + (1 - lam) * one_hot[partner]


def mixed_indices(images, labels, partner, lam, num_classes):
    return lam * images + (1 - lam) * images[partner], lam * labels.float() + (1 - lam) * labels[partner].float()


def with_the_helper(images, labels, partner, lam, num_classes):
    return tuple(mixup(images, labels, num_classes=num_classes, generator=0))[:2]


def wrong_partner_labels(images, labels, partner, lam, num_classes):  # labels of the image's own neighbour
    one_hot = F.one_hot(labels, num_classes).float()
    return lam * images + (1 - lam) * images[partner], lam * one_hot + (1 - lam) * one_hot.roll(1, 0)


# q3: when early stopping stops ----------------------------------------------------------------------

def one_late(val_losses, patience):
    best = 1
    for epoch, loss in enumerate(val_losses, start=1):
        if loss < val_losses[best - 1]:
            best = epoch
        if epoch - best > patience:
            return epoch, best
    return len(val_losses), best


def ties_count(val_losses, patience):
    best = 1
    for epoch, loss in enumerate(val_losses, start=1):
        if loss <= val_losses[best - 1]:
            best = epoch
        if epoch - best >= patience:
            return epoch, best
    return len(val_losses), best


def from_zero(val_losses, patience):
    best = 0
    for epoch, loss in enumerate(val_losses):
        if loss < val_losses[best]:
            best = epoch
        if epoch - best >= patience:
            return epoch, best
    return len(val_losses) - 1, best


def looks_ahead(val_losses, patience):
    best = 1
    for epoch, loss in enumerate(val_losses, start=1):
        if loss < val_losses[best - 1]:
            best = epoch
        if epoch - best >= patience:
            return epoch, val_losses.index(min(val_losses)) + 1
    return len(val_losses), val_losses.index(min(val_losses)) + 1


def against_previous(val_losses, patience):
    worse, best = 0, 1
    for epoch in range(2, len(val_losses) + 1):
        worse = worse + 1 if val_losses[epoch - 1] >= val_losses[epoch - 2] else 0
        if val_losses[epoch - 1] < val_losses[best - 1]:
            best = epoch
        if worse >= patience:
            return epoch, best
    return len(val_losses), best


def uncapped(val_losses, patience):
    best = 1
    for epoch, loss in enumerate(val_losses, start=1):
        if loss < val_losses[best - 1]:
            best = epoch
        if epoch - best >= patience:
            break
    return best + patience, best


def never_stops(val_losses, patience):
    return len(val_losses), val_losses.index(min(val_losses)) + 1


def stop_is_best(val_losses, patience):
    _, best = ex._early_stopping(val_losses, patience)
    return best, best


def as_a_list(val_losses, patience):
    return [*ex._early_stopping(val_losses, patience)][:1]


CATALOGUE = {
    "q1": [
        (no_swap, "Swap each (left, right) pair"),
        (off_by_one, "not W − x"),
        (negated, "you negated x"),
        (flips_y, "only x changes"),
        (upside_down, "flipped upside down"),
        (channels_reversed, "you reversed the channels"),
        (image_only, "the keypoints are not"),
        (points_only, "the image is not"),
        (uses_height, "mirrored with the image's height"),
        (with_torchvision, "a ready-made flip"),
        (in_place, "in place"),
        (lambda image, keypoints, pairs: image.flip(-1), "(flipped_image, flipped_keypoints)"),
    ],
    "q2": [
        (labels_kept, "the labels are not"),
        (label_weights_swapped, "the labels are mixed with the weights the wrong way round"),
        (image_weights_swapped, "the images are mixed with the weights the wrong way round"),
        (inverse_partner, "not with its own partner"),
        (neighbour, "its neighbour in the batch"),
        (both_lam, "the partner's weight is 1 − λ"),
        (no_num_classes, "Pass num_classes"),
        (mixed_indices, "class indices cannot be blended"),
        (with_the_helper, "a ready-made mixup"),
    ],
    "q3": [
        (one_late, "training stops one epoch late"),
        (ties_count, "a loss equal to the best counted as an improvement"),
        (from_zero, "counted from 0"),
        (looks_ahead, "not among all the losses given"),
        (against_previous, "worse than the epoch before"),
        (uncapped, "an epoch that is not in the list"),
        (never_stops, "the stop epoch is always the last one"),
        (stop_is_best, "the stop epoch is the best epoch"),
        (as_a_list, "(stop_epoch, best_epoch)"),
    ],
}


def test_q1_accepts_indexing_the_columns_backwards():
    def by_index(image, keypoints, pairs):
        width = image.shape[-1]
        points = torch.stack([width - 1 - keypoints[:, 0], keypoints[:, 1]], dim=1)
        order = list(range(len(keypoints)))
        for left, right in pairs:
            order[left], order[right] = right, left
        return image[..., torch.arange(width - 1, -1, -1)], points[order]
    assert ex.q1.check(by_index).passed


def test_q1_reference_agrees_with_torchvision_keypoints_where_available():
    """torchvision's own flip of the image equals the reference's (its keypoint support varies by version)."""
    case = ex.q1._checker.cases[1]
    image, keypoints, pairs = case.fresh()[0]
    flipped, _ = ex._flip_with_keypoints(image, keypoints, pairs)
    torch.testing.assert_close(flipped, v2.functional.horizontal_flip(image))


def test_q2_reference_matches_the_course_mixup_with_a_rolled_partner():
    images = torch.rand(6, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    labels = torch.tensor([0, 1, 2, 3, 4, 5])
    mixed = mixup(images, labels, num_classes=7, generator=1)
    partner = torch.arange(6).roll(1)
    torch.testing.assert_close(ex._mixup_batch(images, labels, partner, mixed.lam, 7), (mixed.images, mixed.labels))


def test_q2_accepts_a_loop_over_the_batch():
    def looped(images, labels, partner, lam, num_classes):
        rows_x, rows_y = [], []
        for i in range(len(images)):
            j = int(partner[i])
            own, other = torch.zeros(num_classes), torch.zeros(num_classes)
            own[labels[i]], other[labels[j]] = 1.0, 1.0
            rows_x.append(lam * images[i] + (1 - lam) * images[j])
            rows_y.append(lam * own + (1 - lam) * other)
        return torch.stack(rows_x), torch.stack(rows_y)
    assert ex.q2.check(looped).passed


@pytest.mark.parametrize("case", range(len(ex.q3._checker.cases)))
def test_q3_reference_is_the_rule_fit_follows(case):
    """fit(early_stopping=p) on a model whose validation loss follows the case's list stops where the reference says."""
    from utils.training import History
    val_losses, patience = ex.q3._checker.cases[case].args
    history, stop = History(), None
    for epoch, loss in enumerate(val_losses, start=1):
        history.append({"epoch": epoch, "val_loss": loss})
        if epoch - history.best["epoch"] >= patience:
            stop = epoch
            break
    stop = stop or len(val_losses)
    assert ex._early_stopping(val_losses, patience) == (stop, history.best["epoch"])


def test_q3_cases_include_a_run_that_never_stops_and_a_tie():
    results = [ex._early_stopping(*case.args) for case in ex.q3._checker.cases]
    lengths = [len(case.args[0]) for case in ex.q3._checker.cases]
    assert any(stop == length for (stop, _), length in zip(results, lengths))
    assert any(stop < length for (stop, _), length in zip(results, lengths))
