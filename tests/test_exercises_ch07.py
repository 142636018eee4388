"""Chapter 07 checkers: the catalogue of wrong answers a learner really writes, and what else must hold."""
import torch
import torch.nn.functional as F

from tests.exercise_testing import report_only, verdict  # noqa: F401  (report_only is an autouse fixture)
from utils.exercises import ch07 as ex


# q1: batch norm on feature maps [N, C, H, W] --------------------------------------------------------

def statistics_over_dim_0(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5):
    """The [N, C] code of the chapter, applied unchanged to feature maps."""
    mean, var = x.mean(dim=0), x.var(dim=0, correction=0)
    y = gamma.view(1, -1, 1, 1) * (x - mean) / torch.sqrt(var + eps) + beta.view(1, -1, 1, 1)
    n = x.shape[0]
    return y, (1 - momentum) * running_mean + momentum * mean, \
        (1 - momentum) * running_var + momentum * var * n / (n - 1)


def per_image(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5):
    mean, var = x.mean(dim=(2, 3)), x.var(dim=(2, 3), correction=0)
    y = gamma.view(1, -1, 1, 1) * (x - mean[..., None, None]) / torch.sqrt(var[..., None, None] + eps) \
        + beta.view(1, -1, 1, 1)
    return y, (1 - momentum) * running_mean + momentum * mean, (1 - momentum) * running_var + momentum * var


def keeps_dims(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5):
    mean, var = x.mean(dim=(0, 2, 3), keepdim=True), x.var(dim=(0, 2, 3), correction=0, keepdim=True)
    y = gamma.view(1, -1, 1, 1) * (x - mean) / torch.sqrt(var + eps) + beta.view(1, -1, 1, 1)
    m = x.numel() // x.shape[1]
    return y, (1 - momentum) * running_mean.view(1, -1, 1, 1) + momentum * mean, \
        (1 - momentum) * running_var.view(1, -1, 1, 1) + momentum * var * m / (m - 1)


def gamma_not_reshaped(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5):
    mean, var = x.mean(dim=(0, 2, 3), keepdim=True), x.var(dim=(0, 2, 3), correction=0, keepdim=True)
    y = gamma * (x - mean) / torch.sqrt(var + eps) + beta
    m = x.numel() // x.shape[1]
    return y, (1 - momentum) * running_mean + momentum * mean.flatten(), \
        (1 - momentum) * running_var + momentum * var.flatten() * m / (m - 1)


def _right_with(x, gamma, beta, running_mean, running_var, momentum, eps, *, correction=0, stored=None, m=None,
                keras=False, eps_outside=False):
    mean, var = x.mean(dim=(0, 2, 3)), x.var(dim=(0, 2, 3), correction=correction)
    c = (1, -1, 1, 1)
    std = torch.sqrt(var.view(c)) + eps if eps_outside else torch.sqrt(var.view(c) + eps)
    y = gamma.view(c) * (x - mean.view(c)) / std + beta.view(c)
    m = x.numel() // x.shape[1] if m is None else m
    stored = x.var(dim=(0, 2, 3), correction=0) * m / (m - 1) if stored is None else stored
    old, new = (momentum, 1 - momentum) if keras else (1 - momentum, momentum)
    return y, old * running_mean + new * mean, old * running_var + new * stored


def unbiased_normalisation(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5):
    return _right_with(x, gamma, beta, running_mean, running_var, momentum, eps, correction=1)


def biased_running_variance(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5):
    return _right_with(x, gamma, beta, running_mean, running_var, momentum, eps,
                       stored=x.var(dim=(0, 2, 3), correction=0))


def unbiased_over_the_batch_size(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5):
    return _right_with(x, gamma, beta, running_mean, running_var, momentum, eps, m=max(x.shape[0], 2))


def keras_momentum(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5):
    return _right_with(x, gamma, beta, running_mean, running_var, momentum, eps, keras=True)


def eps_outside(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5):
    return _right_with(x, gamma, beta, running_mean, running_var, momentum, eps, eps_outside=True)


def momentum_hard_coded(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5):
    return _right_with(x, gamma, beta, running_mean, running_var, 0.1, eps)


def running_statistics_unchanged(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5):
    return _right_with(x, gamma, beta, running_mean, running_var, momentum, eps)[0], running_mean, running_var


def statistics_detached(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5):
    with torch.no_grad():
        mean, var = x.mean(dim=(0, 2, 3)), x.var(dim=(0, 2, 3), correction=0)
    c = (1, -1, 1, 1)
    y = gamma.view(c) * (x - mean.view(c)) / torch.sqrt(var.view(c) + eps) + beta.view(c)
    m = x.numel() // x.shape[1]
    return y, (1 - momentum) * running_mean + momentum * mean, (1 - momentum) * running_var + momentum * var * m / (m - 1)


def with_functional_batch_norm(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5):
    new_mean, new_var = running_mean.clone(), running_var.clone()
    return F.batch_norm(x, new_mean, new_var, gamma, beta, training=True, momentum=momentum, eps=eps), new_mean, new_var


def with_the_module(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5):
    layer = torch.nn.BatchNorm2d(x.shape[1], momentum=momentum, eps=eps)
    return layer(x), layer.running_mean, layer.running_var


# q2: batch norm's backward pass ---------------------------------------------------------------

def _parts(x, eps):
    std = torch.sqrt(x.var(dim=0, correction=0) + eps)
    return std, (x - x.mean(dim=0)) / std


def mean_and_variance_as_constants(dy, x, gamma, eps=1e-5):
    std, x_hat = _parts(x, eps)
    return gamma * dy / std, (dy * x_hat).sum(0), dy.sum(0)


def without_the_variance_path(dy, x, gamma, eps=1e-5):
    std, x_hat = _parts(x, eps)
    return gamma / std * (dy - dy.mean(0)), (dy * x_hat).sum(0), dy.sum(0)


def without_the_mean_path(dy, x, gamma, eps=1e-5):
    std, x_hat = _parts(x, eps)
    return gamma / std * (dy - x_hat * (dy * x_hat).mean(0)), (dy * x_hat).sum(0), dy.sum(0)


def sums_instead_of_means(dy, x, gamma, eps=1e-5):
    std, x_hat = _parts(x, eps)
    return gamma / std * (dy - dy.sum(0) - x_hat * (dy * x_hat).sum(0)), (dy * x_hat).sum(0), dy.sum(0)


def variance_term_added(dy, x, gamma, eps=1e-5):
    std, x_hat = _parts(x, eps)
    return gamma / std * (dy - dy.mean(0) + x_hat * (dy * x_hat).mean(0)), (dy * x_hat).sum(0), dy.sum(0)


def unbiased_sigma(dy, x, gamma, eps=1e-5):
    std = torch.sqrt(x.var(dim=0) + eps)
    x_hat = (x - x.mean(0)) / std
    return gamma / std * (dy - dy.mean(0) - x_hat * (dy * x_hat).mean(0)), (dy * x_hat).sum(0), dy.sum(0)


def dgamma_and_dbeta_swapped(dy, x, gamma, eps=1e-5):
    std, x_hat = _parts(x, eps)
    return gamma / std * (dy - dy.mean(0) - x_hat * (dy * x_hat).mean(0)), dy.sum(0), (dy * x_hat).sum(0)


def dx_without_gamma(dy, x, gamma, eps=1e-5):
    std, x_hat = _parts(x, eps)
    return (dy - dy.mean(0) - x_hat * (dy * x_hat).mean(0)) / std, (dy * x_hat).sum(0), dy.sum(0)


def dbeta_averaged(dy, x, gamma, eps=1e-5):
    std, x_hat = _parts(x, eps)
    return gamma / std * (dy - dy.mean(0) - x_hat * (dy * x_hat).mean(0)), (dy * x_hat).sum(0), dy.mean(0)


def per_example_dgamma(dy, x, gamma, eps=1e-5):
    std, x_hat = _parts(x, eps)
    return gamma / std * (dy - dy.mean(0) - x_hat * (dy * x_hat).mean(0)), dy * x_hat, dy.sum(0)


def asks_autograd(dy, x, gamma, eps=1e-5):
    x, gamma = x.clone().requires_grad_(), gamma.clone().requires_grad_()
    beta = torch.zeros_like(gamma, requires_grad=True)
    y = F.batch_norm(x, None, None, gamma, beta, training=True, eps=eps)
    return torch.autograd.grad(y, (x, gamma, beta), dy)


def calls_backward(dy, x, gamma, eps=1e-5):
    x, gamma = x.clone().requires_grad_(), gamma.clone().requires_grad_()
    beta = torch.zeros_like(gamma, requires_grad=True)
    y = gamma * (x - x.mean(0)) / torch.sqrt(x.var(0, correction=0) + eps) + beta
    y.backward(dy)
    return x.grad, gamma.grad, beta.grad


# q3: folding batch norm into the linear layer --------------------------------------------------

def scales_the_columns(weight, bias, gamma, beta, running_mean, running_var, eps=1e-5):
    scale = gamma / torch.sqrt(running_var + eps)
    return weight * scale, (bias - running_mean) * scale + beta


def bias_not_scaled(weight, bias, gamma, beta, running_mean, running_var, eps=1e-5):
    scale = gamma / torch.sqrt(running_var + eps)
    return weight * scale[:, None], bias - running_mean * scale + beta


def forgets_the_mean(weight, bias, gamma, beta, running_mean, running_var, eps=1e-5):
    scale = gamma / torch.sqrt(running_var + eps)
    return weight * scale[:, None], bias * scale + beta


def adds_the_mean(weight, bias, gamma, beta, running_mean, running_var, eps=1e-5):
    scale = gamma / torch.sqrt(running_var + eps)
    return weight * scale[:, None], (bias + running_mean) * scale + beta


def mean_after_scaling(weight, bias, gamma, beta, running_mean, running_var, eps=1e-5):
    scale = gamma / torch.sqrt(running_var + eps)
    return weight * scale[:, None], bias * scale - running_mean + beta


def forgets_beta(weight, bias, gamma, beta, running_mean, running_var, eps=1e-5):
    scale = gamma / torch.sqrt(running_var + eps)
    return weight * scale[:, None], (bias - running_mean) * scale


def divides_by_the_variance(weight, bias, gamma, beta, running_mean, running_var, eps=1e-5):
    scale = gamma / (running_var + eps)
    return weight * scale[:, None], (bias - running_mean) * scale + beta


def forgets_eps(weight, bias, gamma, beta, running_mean, running_var, eps=1e-5):
    scale = gamma / running_var.sqrt()
    return weight * scale[:, None], (bias - running_mean) * scale + beta


def eps_outside_the_root(weight, bias, gamma, beta, running_mean, running_var, eps=1e-5):
    scale = gamma / (running_var.sqrt() + eps)
    return weight * scale[:, None], (bias - running_mean) * scale + beta


def with_torch_fusion(weight, bias, gamma, beta, running_mean, running_var, eps=1e-5):
    from torch.nn.utils.fusion import fuse_linear_bn_weights
    return fuse_linear_bn_weights(weight, bias, running_mean, running_var, eps, gamma, beta)


def returns_the_scale_only(weight, bias, gamma, beta, running_mean, running_var, eps=1e-5):
    return gamma / torch.sqrt(running_var + eps)


# q4: standardising with the training statistics, constant features included -------------------------

def own_statistics(train_X, test_X):
    std = train_X.std(0)
    std[std == 0] = 1
    return (train_X - train_X.mean(0)) / std, (test_X - test_X.mean(0)) / test_X.std(0)


def pooled_statistics(train_X, test_X):
    both = torch.cat([train_X, test_X])
    std = both.std(0)
    return (train_X - both.mean(0)) / std, (test_X - both.mean(0)) / std


def per_example(train_X, test_X):
    return tuple((x - x.mean(1, keepdim=True)) / x.std(1, keepdim=True) for x in (train_X, test_X))


def divides_by_zero(train_X, test_X):
    mean, std = train_X.mean(0), train_X.std(0)
    return (train_X - mean) / std, (test_X - mean) / std


def nan_to_num_afterwards(train_X, test_X):
    mean, std = train_X.mean(0), train_X.std(0)
    return torch.nan_to_num((train_X - mean) / std), torch.nan_to_num((test_X - mean) / std)


def plus_eps(train_X, test_X):
    mean, std = train_X.mean(0), train_X.std(0)
    return (train_X - mean) / (std + 1e-8), (test_X - mean) / (std + 1e-8)


def zeroes_constant_features(train_X, test_X):
    mean, std = train_X.mean(0), train_X.std(0)
    train_Z, test_Z = (train_X - mean) / std, (test_X - mean) / std
    train_Z[:, std == 0] = 0.0
    test_Z[:, std == 0] = 0.0
    return train_Z, test_Z


def drops_constant_features(train_X, test_X):
    keep = train_X.std(0) > 0
    train_X, test_X = train_X[:, keep], test_X[:, keep]
    return (train_X - train_X.mean(0)) / train_X.std(0), (test_X - train_X.mean(0)) / train_X.std(0)


def population_std(train_X, test_X):
    mean, std = train_X.mean(0), train_X.std(0, correction=0)
    std = torch.where(std > 0, std, 1.0)
    return (train_X - mean) / std, (test_X - mean) / std


def in_place(train_X, test_X):
    mean, std = train_X.mean(0), train_X.std(0)
    std = torch.where(std > 0, std, 1.0)
    train_X -= mean
    train_X /= std
    return train_X, (test_X - mean) / std


def with_the_course_helper(train_X, test_X):
    from utils.data import standardize
    return standardize(train_X, test_X)


def with_scikit_learn(train_X, test_X):
    from sklearn.preprocessing import StandardScaler
    scaler = StandardScaler().fit(train_X.numpy())
    return tuple(torch.from_numpy(scaler.transform(x.numpy())) for x in (train_X, test_X))


CATALOGUE = {
    "q1": [
        (statistics_over_dim_0, "one per channel and position"),
        (per_image, "instance normalisation"),
        (keeps_dims, "without keepdim=True"),
        (gamma_not_reshaped, "reshape them to [1, C, 1, 1]"),
        (unbiased_normalisation, "normalised with the unbiased variance"),
        (biased_running_variance, "stores the biased batch variance"),
        (unbiased_over_the_batch_size, "correction uses m = N"),
        (keras_momentum, "Keras/TensorFlow"),
        (eps_outside, "outside the square root"),
        (momentum_hard_coded, "use the momentum argument"),
        (running_statistics_unchanged, "came back unchanged"),
        (statistics_detached, "is treated as a constant"),
        (with_functional_batch_norm, "computes the whole batch norm, statistics and all"),
        (with_the_module, "`BatchNorm2d`"),
    ],
    "q2": [
        (mean_and_variance_as_constants, "as constants"),
        (without_the_variance_path, "the path through the variance"),
        (without_the_mean_path, "the path through the mean"),
        (sums_instead_of_means, "not plain sums"),
        (variance_term_added, "sign of the variance term"),
        (unbiased_sigma, "unbiased variance"),
        (dgamma_and_dbeta_swapped, "swapped"),
        (dx_without_gamma, "dx forgot γ"),
        (dbeta_averaged, "dbeta averages"),
        (per_example_dgamma, "one entry per feature"),
        (asks_autograd, "deriving and writing them by hand"),
        (calls_backward, "`backward`"),
    ],
    "q3": [
        (scales_the_columns, "scaled the columns"),
        (bias_not_scaled, "the old bias is not scaled"),
        (forgets_the_mean, "the running mean is missing"),
        (adds_the_mean, "the running mean is added"),
        (mean_after_scaling, "subtracted after scaling"),
        (forgets_beta, "β is missing"),
        (divides_by_the_variance, "divided by the variance"),
        (forgets_eps, "eps is missing"),
        (eps_outside_the_root, "outside the square root"),
        (with_torch_fusion, "folds batch norm for you"),
        (returns_the_scale_only, "should return 2 things"),
    ],
    "q4": [
        (own_statistics, "its own mean and std"),
        (pooled_statistics, "together"),
        (per_example, "each example"),
        (divides_by_zero, "0/0 gives NaN"),
        (nan_to_num_afterwards, "nan_to_num"),
        (plus_eps, "order of 1/eps"),
        (zeroes_constant_features, "set to 0 in both sets"),
        (drops_constant_features, "dropped the constant features"),
        (population_std, "n − 1"),
        (in_place, "in place"),
        (with_the_course_helper, "standardises for you: writing that"),
        (with_scikit_learn, "`StandardScaler`"),
    ],
}


def test_q1_accepts_a_reshape_to_rows_of_channels():
    """Feature maps as [N·H·W, C] rows, then the [N, C] batch norm: the same statistics."""
    def as_rows(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5):
        n, c, h, w = x.shape
        rows = x.permute(0, 2, 3, 1).reshape(-1, c)
        mean, var = rows.mean(0), rows.var(0, correction=0)
        y = gamma * (rows - mean) / torch.sqrt(var + eps) + beta
        m = len(rows)
        return (y.reshape(n, h, w, c).permute(0, 3, 1, 2), (1 - momentum) * running_mean + momentum * mean,
                (1 - momentum) * running_var + momentum * rows.var(0))
    assert ex.q1.check(as_rows).passed


def test_q2_runs_gradcheck_on_the_answer():
    assert "gradcheck agrees" in ex.q2.check(ex._batch_norm_backward).message


def test_q3_compares_with_linear_then_batch_norm():
    assert "nn.Linear → nn.BatchNorm1d" in ex.q3.check(ex._fold_batch_norm).message


def test_q4_accepts_a_mask_for_the_constant_features():
    def masked(train_X, test_X):
        mean, std = train_X.mean(0), train_X.std(0)
        std = std.masked_fill(std == 0, 1.0)
        return (train_X - mean) / std, (test_X - mean) / std
    assert ex.q4.check(masked).passed
