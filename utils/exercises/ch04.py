"""Chapter 04 (loss and gradient descent) exercises: a stable softmax cross-entropy, one step of
gradient descent with momentum, a finite-difference gradient, and the learning-rate limit 2/L."""
import torch
import torch.nn.functional as F

from utils.exercises import Question, Wrong, call, close, gap, require


def _softmax_cross_entropy(logits, targets):
    shifted = logits - logits.max(dim=1, keepdim=True).values  # the largest logit of each row becomes 0
    log_probabilities = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    return -log_probabilities[torch.arange(len(targets)), targets].mean()


def _check_softmax_cross_entropy(fn):
    g = torch.Generator().manual_seed(4)
    logits, targets = torch.randn(6, 5, generator=g), torch.tensor([0, 4, 2, 2, 1, 3])
    out = call(fn, logits, targets, name="softmax_cross_entropy")
    require(torch.is_tensor(out), f"return a tensor, not a {type(out).__name__}: keep it differentiable",
            zh=f"请返回一个张量，而不是 {type(out).__name__}：保持它可求导")
    expected = F.cross_entropy(logits, targets)
    require(out.shape != (6,), "you return one loss per example (shape (6,)): F.cross_entropy averages them "
                               "into one number, so finish with .mean()",
            zh="你对每个样本各返回了一个损失（形状 (6,)）：F.cross_entropy 会把它们平均成"
               "一个数，所以最后加上 .mean()")
    require(out.ndim == 0, f"the loss is one number (a 0-d tensor); yours has shape {tuple(out.shape)}",
            zh=f"损失是一个数（0 维张量）；你的形状是 {tuple(out.shape)}")
    require(not close(out, -expected, atol=1e-5), "the sign is flipped: cross-entropy is −log p of the right "
                                                  "class, which is positive",
            zh="符号反了：交叉熵是正确类别的 −log p，它是正数")
    require(not close(out, expected * len(targets), atol=1e-4),
            f"you summed over the batch ({out.item():.4f}); F.cross_entropy averages (reduction='mean'): "
            "divide by the batch size or use .mean()",
            zh=f"你对整个批次求了和（{out.item():.4f}）；F.cross_entropy 求的是平均（reduction='mean'）："
               "除以批大小，或用 .mean()")
    require(close(out, expected, atol=1e-5),
            f"{out.item():.4f} differs from F.cross_entropy's {expected.item():.4f}. Check that you pick each "
            "row's own target with log_probs[torch.arange(N), targets] and use log-softmax along dim=1",
            zh=f"{out.item():.4f} 与 F.cross_entropy 的 {expected.item():.4f} 不同。检查你是否用 "
               "log_probs[torch.arange(N), targets] 取出每一行自己的目标，并沿 dim=1 做 log-softmax")
    huge = torch.tensor([[1000.0, 0.0, -1000.0], [0.0, 1000.0, 5.0], [-1000.0, -1001.0, -1002.0]])
    huge_targets = torch.tensor([0, 2, 1])
    out = call(fn, huge, huge_targets, name="softmax_cross_entropy")
    expected = F.cross_entropy(huge, huge_targets)
    require(torch.is_tensor(out) and bool(torch.isfinite(out)),
            f"with logits of size 1000 you return {out.item() if torch.is_tensor(out) else out}: e^1000 overflows "
            "to inf and inf/inf is NaN. Subtract each row's largest logit first (it cancels out of the softmax), "
            "and take the log-softmax as shifted − log Σ exp(shifted) instead of log(softmax)",
            zh=f"logits 大到 1000 时你返回了 {out.item() if torch.is_tensor(out) else out}：e^1000 会上溢"
               "为 inf，而 inf/inf 是 NaN。先减去每行最大的 logit（它在 softmax 中会被约掉），"
               "并把 log-softmax 算成 shifted − log Σ exp(shifted)，而不是 log(softmax)")
    require(close(out, expected, atol=1e-3),
            f"finite but wrong for large logits: {out.item():.3f}, expected {expected.item():.3f}. Subtract each "
            "row's own maximum (max(dim=1, keepdim=True)), not one maximum of the whole batch, and never take "
            "the log of a probability that underflowed to 0",
            zh=f"logits 很大时结果有限但不对：{out.item():.3f}，应为 {expected.item():.3f}。减去"
               "每一行自己的最大值（max(dim=1, keepdim=True)），而不是整个批次的同一个最大值，"
               "也绝不要对下溢成 0 的概率取对数")
    logits = logits.clone().requires_grad_(True)
    out = call(fn, logits, targets, name="softmax_cross_entropy")
    require(out.requires_grad, "the loss carries no gradient: stay in torch (no .item(), NumPy or .detach())",
            zh="损失没有携带梯度：全程留在 torch 中（不要用 .item()、NumPy 或 .detach()）")
    grad, = torch.autograd.grad(out, logits)
    reference = torch.softmax(logits.detach(), dim=1) - F.one_hot(targets, 5)
    reference = reference / len(targets)
    require(close(grad, reference, atol=1e-6),
            f"the gradient differs from (softmax − one_hot)/N by up to {gap(grad, reference):.2g}",
            zh=f"梯度与 (softmax − one_hot)/N 最多相差 {gap(grad, reference):.2g}")


q1 = Question("q1", "a stable softmax cross-entropy", _check_softmax_cross_entropy, chapter="04",
              hint="log softmax(z)ᵢ = zᵢ − log Σⱼ exp(zⱼ), and it does not change if you subtract the row's "
                   "maximum from every zⱼ first. Then pick the target's entry in each row and average with −mean.",
              reference=_softmax_cross_entropy, title_zh="数值稳定的 softmax 交叉熵",
              hint_zh="log softmax(z)ᵢ = zᵢ − log Σⱼ exp(zⱼ)，而且先从每个 zⱼ 中减去该行的最大值，结果不变。"
                      "然后在每一行取出目标类别对应的元素，用 −mean 求平均。")


def _momentum_step(w, velocity, grad, lr, momentum):
    new_velocity = momentum * velocity + grad  # torch.optim.SGD's convention
    return w - lr * new_velocity, new_velocity


def _pair(result):
    require(isinstance(result, (tuple, list)) and len(result) == 2,
            "return two tensors: (new weights, new velocity)",
            zh="请返回两个张量：(新的权重, 新的速度)")
    new_w, new_velocity = result
    require(torch.is_tensor(new_w) and torch.is_tensor(new_velocity), "both results must be tensors",
            zh="两个结果都必须是张量")
    return new_w, new_velocity


def _check_momentum_step(fn):
    w, grad = torch.tensor([1.0, -2.0, 0.5]), torch.tensor([0.4, -1.0, 2.0])
    plain_w, _ = _pair(call(fn, w, torch.zeros(3), grad, 0.1, 0.0, name="momentum_step"))
    require(plain_w.shape == w.shape, f"the new weights have shape {tuple(plain_w.shape)}, expected {tuple(w.shape)}",
            zh=f"新权重的形状是 {tuple(plain_w.shape)}，应为 {tuple(w.shape)}")
    require(not close(plain_w, w + 0.1 * grad), "with momentum 0 you moved w + η·g, uphill: descent subtracts the "
                                                "gradient, w − η·g",
            zh="动量为 0 时你走到了 w + η·g，这是在往上坡走：下降要减去梯度，w − η·g")
    require(not close(plain_w, w - grad), "the step ignores the learning rate: it is w − η·g, not w − g",
            zh="这一步忽略了学习率：应是 w − η·g，而不是 w − g")
    require(close(plain_w, w - 0.1 * grad), f"with momentum 0 one step is w − η·g = {(w - 0.1 * grad).tolist()}; "
                                            f"you returned {plain_w.tolist()}",
            zh=f"动量为 0 时，一步就是 w − η·g = {(w - 0.1 * grad).tolist()}；"
               f"你返回的是 {plain_w.tolist()}")
    velocity = torch.tensor([1.0, 1.0, -1.0])
    new_w, new_velocity = _pair(call(fn, w, velocity, grad, 0.1, 0.9, name="momentum_step"))
    expected_w, expected_velocity = _momentum_step(w, velocity, grad, 0.1, 0.9)
    require(not close(new_velocity, 0.9 * velocity + 0.1 * grad),
            "your velocity already includes the learning rate (v ← μv + η·g, the form of some papers). "
            "torch.optim.SGD keeps v ← μv + g and multiplies by η only when stepping: w ← w − η·v",
            zh="你的速度已经包含了学习率（v ← μv + η·g，一些论文中的写法）。"
               "torch.optim.SGD 保存的是 v ← μv + g，只在走这一步时才乘以 η：w ← w − η·v")
    require(not close(new_velocity, velocity + 0.9 * grad), "momentum multiplies the OLD velocity: v ← μ·v + g",
            zh="动量乘的是旧的速度：v ← μ·v + g")
    require(close(new_velocity, expected_velocity), f"new velocity {new_velocity.tolist()}, expected μ·v + g = "
                                                    f"{expected_velocity.tolist()}",
            zh=f"新的速度是 {new_velocity.tolist()}，应为 μ·v + g = "
               f"{expected_velocity.tolist()}")
    require(not close(new_w, w - 0.1 * velocity), "you stepped with the old velocity: update v first, then w − η·v_new",
            zh="你用旧的速度走了这一步：先更新 v，再走 w − η·v_new")
    require(close(new_w, expected_w), f"new weights {new_w.tolist()}, expected w − η·(μ·v + g) = {expected_w.tolist()}",
            zh=f"新的权重是 {new_w.tolist()}，应为 w − η·(μ·v + g) = {expected_w.tolist()}")
    parameter = torch.nn.Parameter(torch.tensor([3.0, -1.0]))
    optimizer = torch.optim.SGD([parameter], lr=0.05, momentum=0.8)
    mine_w, mine_velocity = parameter.detach().clone(), torch.zeros(2)
    for _ in range(5):
        optimizer.zero_grad()
        (parameter ** 4).sum().backward()
        mine_w, mine_velocity = _pair(call(fn, mine_w, mine_velocity, 4 * mine_w ** 3, 0.05, 0.8, name="momentum_step"))
        optimizer.step()
    require(close(mine_w, parameter.detach(), atol=1e-5),
            f"after 5 steps on f(w) = Σw⁴ you are at {mine_w.tolist()}, torch.optim.SGD at {parameter.tolist()}",
            zh=f"在 f(w) = Σw⁴ 上走 5 步后，你在 {mine_w.tolist()}，"
               f"torch.optim.SGD 在 {parameter.tolist()}")


q2 = Question("q2", "one step of gradient descent with momentum", _check_momentum_step, chapter="04",
              hint="Two lines, in this order: velocity = momentum·velocity + grad, then w = w − lr·velocity. "
                   "Return both, as new tensors.",
              reference=_momentum_step, title_zh="带动量的一步梯度下降",
              hint_zh="两行，按这个顺序：velocity = momentum·velocity + grad，然后 w = w − lr·velocity。"
                      "以新张量的形式把两者都返回。")


def _numerical_gradient(f, x, h=1e-5):
    grad = torch.zeros_like(x)
    for i in range(x.numel()):
        step = torch.zeros_like(x)
        step.view(-1)[i] = h
        grad.view(-1)[i] = (f(x + step) - f(x - step)) / (2 * h)
    return grad


def _cubic(x):
    return (x ** 3).sum() + x[0, 0] * x[1, 2]


def _cubic_grad(x):
    grad = 3 * x ** 2
    grad[0, 0] += x[1, 2]
    grad[1, 2] += x[0, 0]
    return grad


def _check_numerical_gradient(fn):
    x = torch.tensor([[0.5, -1.0, 2.0], [1.5, 0.0, -0.5]], dtype=torch.float64)
    calls = []

    def counted(point):
        calls.append(1)
        return _cubic(point.detach())

    out = call(fn, counted, x, 1e-3, name="numerical_gradient")
    require(torch.is_tensor(out), f"return a tensor, not a {type(out).__name__}",
            zh=f"请返回一个张量，而不是 {type(out).__name__}")
    require(out.shape == x.shape, f"shape {tuple(out.shape)}, expected {tuple(x.shape)}: one partial derivative "
                                  "per entry of x, in x's shape",
            zh=f"形状是 {tuple(out.shape)}，应为 {tuple(x.shape)}：x 的每个元素对应一个"
               "偏导数，按 x 的形状排列")
    require(out.dtype == x.dtype, f"dtype {out.dtype}, expected {x.dtype}: build the result with torch.zeros_like(x)",
            zh=f"数据类型是 {out.dtype}，应为 {x.dtype}：用 torch.zeros_like(x) 创建结果")
    exact = _cubic_grad(x)
    require(not close(out, 2 * exact, atol=1e-4, rtol=1e-3), "every entry is twice too large: the central "
                                                             "difference divides by 2h, the distance between x − h and x + h",
            zh="每个元素都大了一倍：中心差分要除以 2h，即 x − h 与 x + h 之间的距离")
    require(not close(out, -exact, atol=1e-4, rtol=1e-3), "the sign is flipped: (f(x + h) − f(x − h)) / 2h",
            zh="符号反了：(f(x + h) − f(x − h)) / 2h")
    forward = torch.stack([(_cubic(x + h_step) - _cubic(x)) / 1e-3 for h_step in
                           (1e-3 * torch.eye(6, dtype=x.dtype)).reshape(6, 2, 3)]).reshape(2, 3)
    require(not close(out, forward, atol=1e-7), f"that is the one-sided difference (f(x + h) − f(x)) / h, off by "
                                                f"{gap(out, exact):.1e} here. Its error shrinks like h; the central "
                                                "difference (f(x + h) − f(x − h)) / 2h has an error like h²",
            zh=f"这是单侧差分 (f(x + h) − f(x)) / h，在这里偏差 {gap(out, exact):.1e}。它的误差与 h "
               "成正比；中心差分 (f(x + h) − f(x − h)) / 2h 的误差与 h² 成正比")
    require(close(out, exact, atol=1e-5), f"largest gap to the exact gradient {gap(out, exact):.1e} (expected "
                                          "about h² = 1e-6): nudge one entry at a time and put each quotient "
                                          "in that entry of the result",
            zh=f"与精确梯度的最大差距为 {gap(out, exact):.1e}（应在 h² = 1e-6 左右）："
               "每次只扰动一个元素，并把每个差商放进结果的对应元素")
    require(len(calls) >= 2 * x.numel(), f"f was called {len(calls)} times, but a finite-difference gradient needs "
                                         f"2 calls per entry ({2 * x.numel()} here): the point is to use only f's "
                                         "values, not autograd",
            zh=f"f 被调用了 {len(calls)} 次，但有限差分梯度每个元素需要调用 2 次"
               f"（这里共 {2 * x.numel()} 次）：关键在于只用 f 的值，不用 autograd")
    y = torch.tensor([0.3, -0.7], dtype=torch.float64)
    try:
        vector = call(fn, lambda p: (p ** 3).sum(), y, 1e-5, name="numerical_gradient")
        vector_zh = vector
    except Wrong as error:
        vector = f"an error ({error})"
        vector_zh = f"一个错误（{error.zh or error}）"
    require(torch.is_tensor(vector) and close(vector, 3 * y ** 2, atol=1e-6),
            f"right for a 2×3 x but for a vector x you return {vector}: handle any shape, e.g. by looping over "
            "the x.numel() entries of a flat view, x.view(-1)[i]",
            zh=f"对 2×3 的 x 正确，但 x 是向量时你的结果是 {vector_zh}：要能处理任意形状，例如"
               "在展平视图 x.view(-1)[i] 上遍历 x.numel() 个元素")
    try:
        call(fn, lambda p: (p ** 3).sum(), y, name="numerical_gradient")
    except Wrong as error:
        raise Wrong(f"called without h: {error}. Give h a default, def numerical_gradient(f, x, h=1e-5)",
                    zh=f"不传 h 调用时：{error.zh or error}。给 h 一个默认值，def numerical_gradient(f, x, h=1e-5)") from None


q3 = Question("q3", "a finite-difference gradient", _check_numerical_gradient, chapter="04",
              hint="For each entry i: make a copy of x with h added to entry i, one with h subtracted, and store "
                   "(f(plus) − f(minus)) / (2h) in entry i of a zeros_like(x) result. x.view(-1)[i] indexes any shape.",
              reference=_numerical_gradient, title_zh="有限差分梯度",
              hint_zh="对每个元素 i：复制一份 x 并在第 i 个元素上加 h，再复制一份减去 h，把 "
                      "(f(plus) − f(minus)) / (2h) 存入 zeros_like(x) 结果的第 i 个元素。x.view(-1)[i] 可以索引任意形状。")


def _lr_limit(hessian):
    return 2 / torch.linalg.eigvalsh(hessian).max().item()


def _check_lr_limit(fn):
    rotated = torch.tensor([[5.5, 4.5], [4.5, 5.5]], dtype=torch.float64)  # curvatures 10 and 1, diagonal 5.5
    out = call(fn, rotated.clone(), name="lr_limit")
    require(isinstance(out, float) or (torch.is_tensor(out) and out.numel() == 1),
            f"return one number (a float), not a {type(out).__name__}",
            zh=f"请返回一个数（float），而不是 {type(out).__name__}")
    out = float(out)
    require(abs(out - 2 / 1.0) > 1e-6, "2/λ_min is the limit of the FLAT direction; the steep direction diverges "
                                       "first, so the limit is 2/λ_max",
            zh="2/λ_min 是平坦方向的极限；陡峭方向会先发散，所以极限是 2/λ_max")
    require(abs(out - 1 / 10) > 1e-6, "1/L is the best step for the steepest direction (it lands there in one step), "
                                      "not the limit: divergence starts at 2/L",
            zh="1/L 是最陡方向上的最佳步长（一步就能到达那里的最低点），"
               "而不是极限：步长到 2/L 才开始发散")
    require(abs(out - 2 / 5.5) > 1e-6, "the largest diagonal entry is not the largest curvature when the bowl is "
                                       "rotated: use the eigenvalues, torch.linalg.eigvalsh(hessian)",
            zh="碗被旋转后，最大的对角元素并不是最大的曲率：请用特征值，torch.linalg.eigvalsh(hessian)")
    require(abs(out - 0.2) < 1e-6, f"got {out:.4g}; for curvatures 10 and 1 the limit is 2/10 = 0.2",
            zh=f"得到 {out:.4g}；曲率为 10 和 1 时，极限是 2/10 = 0.2")
    diagonal = torch.diag(torch.tensor([0.5, 4.0, 2.0], dtype=torch.float64))
    other = float(call(fn, diagonal.clone(), name="lr_limit"))
    require(abs(other - 0.5) < 1e-6, f"right for a 2×2 bowl but {other:.4g} for curvatures 0.5, 4 and 2 "
                                     "(expected 2/4 = 0.5)",
            zh=f"对 2×2 的碗正确，但曲率为 0.5、4 和 2 时得到 {other:.4g}"
               "（应为 2/4 = 0.5）")


q4 = Question("q4", "the largest stable learning rate", _check_lr_limit, chapter="04",
              hint="Each eigen-direction of the Hessian is a 1-D quadratic with curvature λ, stable for η < 2/λ. "
                   "All must be stable at once.",
              reference=_lr_limit, title_zh="最大的稳定学习率",
              hint_zh="黑塞矩阵的每个特征方向都是一个曲率为 λ 的一维二次函数，当 η < 2/λ 时稳定。"
                      "所有方向必须同时稳定。")
