"""Chapter 14 (deepfake-detection capstone) exercises: AUC by the rank (Mann–Whitney) formula, the first
problem in a challenge label file, and a fixed high-pass residual applied to each colour channel."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from utils.exercises import (Case, Mistake, Question, as_number, as_tensor, call, forbidding, function_checker,
                             require)
from utils.exercises.core import Wrong

CHAPTER = "14"


# q1 · AUC by the rank formula ---------------------------------------------------------------------

RANKINGS = forbidding("utils.metrics.roc_auc", [
    "utils.metrics.roc_auc", "utils.metrics.roc_curve", "sklearn.metrics.roc_auc_score",
    "sklearn.metrics.roc_curve", "sklearn.metrics.auc", "scipy.stats.mannwhitneyu"],
    why="computes the AUC (or the Mann–Whitney statistic) for you",
    why_zh="它替你算出了 AUC（或 Mann–Whitney 统计量）")


def _average_ranks(scores):
    """1-based ranks from the lowest score up; tied scores share the mean of the ranks they span."""
    below = (scores[None, :] < scores[:, None]).sum(1).double()
    equal = (scores[None, :] == scores[:, None]).sum(1).double()
    return below + (equal + 1) / 2


def _auc_by_ranks(scores, labels):
    positives = labels == 1
    n_pos, n_neg = int(positives.sum()), int((~positives).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("the AUC needs both classes: every label is the same")
    rank_sum = _average_ranks(scores)[positives].sum()
    return float((rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _auc_parts(scores, labels, ranks, subtract):
    positives = labels == 1
    n_pos, n_neg = int(positives.sum()), int((~positives).sum())
    return float((ranks[positives].sum() - subtract(n_pos)) / (n_pos * n_neg))


def _ordinal_ranks(scores, labels):
    ranks = torch.argsort(torch.argsort(scores)).double() + 1
    return _auc_parts(scores, labels, ranks, lambda n: n * (n + 1) / 2)


def _ties_as_wins(scores, labels):
    ranks = (scores[None, :] <= scores[:, None]).sum(1).double()
    return _auc_parts(scores, labels, ranks, lambda n: n * (n + 1) / 2)


def _ties_as_losses(scores, labels):
    ranks = (scores[None, :] < scores[:, None]).sum(1).double() + 1
    return _auc_parts(scores, labels, ranks, lambda n: n * (n + 1) / 2)


def _zero_based_ranks(scores, labels):
    return _auc_parts(scores, labels, _average_ranks(scores) - 1, lambda n: n * (n + 1) / 2)


def _wrong_subtraction(scores, labels):
    return _auc_parts(scores, labels, _average_ranks(scores), lambda n: n * (n - 1) / 2)


def _classes_swapped(scores, labels):
    return _auc_by_ranks(scores, 1 - labels)


def _not_normalised(scores, labels):
    positives = labels == 1
    n_pos = int(positives.sum())
    return float(_average_ranks(scores)[positives].sum() - n_pos * (n_pos + 1) / 2)


def _over_all_pairs(scores, labels):
    positives = labels == 1
    n_pos, n = int(positives.sum()), len(labels)
    return float((_average_ranks(scores)[positives].sum() - n_pos * (n_pos + 1) / 2) / (n * (n - 1) / 2))


def _accuracy_at_half(scores, labels):
    return float(((scores > 0.5).long() == labels).double().mean())


def _one_class_refused(fn) -> None:
    """An answer must refuse labels of one class with a ValueError, not return a number or divide by zero."""
    for labels, which in ((torch.ones(5, dtype=torch.long), "fake (1)"), (torch.zeros(5, dtype=torch.long), "real (0)")):
        scores = torch.tensor([0.2, 0.9, 0.4, 0.7, 0.1])
        try:
            value = call(fn, scores, labels, name="auc_by_ranks")
        except Wrong as wrong:
            if wrong.en.startswith("auc_by_ranks raised ValueError"):
                continue
            if not wrong.en.startswith("auc_by_ranks raised "):
                raise
            accident = wrong.en.removeprefix("auc_by_ranks raised ").split(":")[0]
            raise Wrong(f"with every label {which}, auc_by_ranks fails by accident ({accident}) instead of saying "
                        "why: check for one class first and raise ValueError with a message",
                        zh=f"所有标签都是 {which} 时，auc_by_ranks 意外地出错了（{accident}），而没有说明原因："
                        "请先检查是否只有一类，并抛出带说明的 ValueError") from None
        require(False,
                f"with every label {which}, auc_by_ranks returns {value!r}, but the AUC is undefined then: there is "
                "no pair of a fake and a real image to compare. Raise ValueError with a message that says so",
                zh=f"所有标签都是 {which} 时，auc_by_ranks 返回了 {value!r}，可这时 AUC 没有定义：没有一对真假图像"
                   "可以比较。请抛出 ValueError，并在消息中说明这一点")


def _scores(seed, n, levels=None, shift=0.0):
    generator = torch.Generator().manual_seed(seed)
    scores = torch.randn(n, generator=generator, dtype=torch.float64) + shift
    return torch.round(scores * levels) / levels if levels else scores


def _labels(seed, n, fakes):
    generator = torch.Generator().manual_seed(seed + 50)
    labels = torch.zeros(n, dtype=torch.long)
    labels[torch.randperm(n, generator=generator)[:fakes]] = 1
    return labels


def _separated(seed, n, fakes, levels=None):
    """Scores that lean towards the fakes, so the AUC is well above a half."""
    labels = _labels(seed, n, fakes)
    return _scores(seed, n, levels) + 0.9 * labels, labels


q1 = Question("q1", "AUC by the rank (Mann–Whitney) formula", chapter=CHAPTER, checker=function_checker(
    "auc_by_ranks", _auc_by_ranks, forbid=RANKINGS,
    convert=lambda out, name: as_number(out, name, what="the AUC", what_zh="AUC"),
    cases=[Case(torch.tensor([0.1, 0.4, 0.35, 0.8]), torch.tensor([0, 0, 1, 1]), note="no ties",
                note_zh="没有并列"),
           Case(torch.tensor([0.9, 0.5, 0.5, 0.5, 0.2, 0.7]), torch.tensor([1, 1, 0, 0, 0, 1]),
                note="a fake tied with two real images", note_zh="一张假图与两张真图分数并列"),
           Case(*_separated(1, 40, 9, levels=2), note="logits rounded to halves: many ties, few fakes",
                note_zh="四舍五入到 0.5 的 logit：大量并列，假图较少"),
           Case(*_separated(2, 30, 20), note="more fakes than real images", note_zh="假图多于真图"),
           Case(*_separated(3, 25, 8, levels=1), hidden=True)],
    mistakes=[
        Mistake(_ordinal_ranks,
                "tied scores got different ranks (1, 2, 3 … in the order they happen to sit): a fake and a real "
                "image with the same score are neither above nor below each other, so tied scores share the mean of "
                "the ranks they span",
                "并列的分数得到了不同的名次（按它们碰巧的位置排 1、2、3……）：分数相同的一张假图和一张真图谁也不比谁高，"
                "所以并列的分数应共享它们所占名次的平均值"),
        Mistake(_ties_as_wins,
                "a tie counts as a win for the fake image: each tied score got the highest of the ranks it spans. "
                "A tie is half a win, so give tied scores the mean of those ranks",
                "并列被算成了假图赢：每个并列的分数得到了它所占名次中最高的那个。并列只算半次赢，"
                "所以请给并列的分数它们所占名次的平均值"),
        Mistake(_ties_as_losses,
                "a tie counts as a loss for the fake image: each tied score got the lowest of the ranks it spans. "
                "A tie is half a win, so give tied scores the mean of those ranks",
                "并列被算成了假图输：每个并列的分数得到了它所占名次中最低的那个。并列只算半次赢，"
                "所以请给并列的分数它们所占名次的平均值"),
        Mistake(_zero_based_ranks,
                "the ranks start at 0: the formula's n₊(n₊ + 1)/2 is the rank sum of fakes that all sit at the "
                "bottom with ranks 1 … n₊, so the ranks must start at 1",
                "名次是从 0 开始的：公式里的 n₊(n₊ + 1)/2 是所有假图都排在最底部（名次 1 … n₊）时的名次之和，"
                "所以名次必须从 1 开始"),
        Mistake(_wrong_subtraction,
                "the term subtracted from the rank sum is off: the smallest possible rank sum of n₊ fakes is "
                "1 + 2 + … + n₊ = n₊(n₊ + 1)/2",
                "从名次之和中减去的那一项不对：n₊ 张假图可能的最小名次之和是 1 + 2 + … + n₊ = n₊(n₊ + 1)/2"),
        Mistake(_classes_swapped,
                "your AUC is 1 − the right one: either you ranked from the highest score down, or you summed the "
                "ranks of the real images. Rank from the lowest score up and sum the fakes' ranks (label 1)",
                "你的 AUC 等于 1 减去正确值：要么你从最高分往下排了名次，要么你加的是真图的名次。"
                "请从最低分往上排名，并把假图（标签 1）的名次加起来"),
        Mistake(_not_normalised,
                "this is the Mann–Whitney count U, the number of (fake, real) pairs in the right order: divide it "
                "by the number of such pairs, n₊ · n₋, to get a probability",
                "这是 Mann–Whitney 的计数 U，即顺序正确的（假图，真图）对的个数：请除以这种对的总数 n₊ · n₋，得到一个概率"),
        Mistake(_over_all_pairs,
                "you divided by the number of all pairs of images; only pairs of one fake and one real image are "
                "compared, n₊ · n₋ of them",
                "你除以了所有图像对的个数；参与比较的只是一张假图配一张真图的对，共 n₊ · n₋ 对"),
        Mistake(_accuracy_at_half,
                "this is the accuracy at a threshold of 0.5, not the AUC: the AUC uses no threshold, only the order "
                "of the scores (which need not be probabilities)",
                "这是阈值取 0.5 时的准确率，不是 AUC：AUC 不用任何阈值，只看分数的先后顺序（分数也不必是概率）"),
    ],
    then=_one_class_refused,
    note=("the rank sum of the fakes, less its smallest possible value, counts the (fake, real) pairs in the right "
          "order; ties count as half, exactly as in roc_auc.",
          "假图名次之和减去它的最小可能值，数的正是顺序正确的（假图，真图）对；并列记半个，与 roc_auc 完全一致。")),
    hint="Rank every score from the lowest (rank 1) up; what rank should two equal scores get? How small can the "
         "fakes' rank sum be, and how many (fake, real) pairs are there?",
    reference=_auc_by_ranks, title_zh="用秩（Mann–Whitney）公式计算 AUC",
    hint_zh="把所有分数从最低（名次 1）往上排名；两个相等的分数应该得到什么名次？假图的名次之和最小能有多小？"
            "一共有多少个（假图，真图）对？")


# q2 · the first problem in a label file ------------------------------------------------------------

GOOD = (0, "ok")  # what a file without problems gives
PROBLEMS = ("ok", "header", "columns", "label", "duplicate")

READERS = forbidding("utils.ffdi.read_labels", ["utils.ffdi.read_labels", "utils.ffdi._rows"],
                     why="checks the label file for you", why_zh="它替你检查了标签文件")


def _first_problem(text):
    lines = text.removeprefix("\ufeff").splitlines()
    if not lines or lines[0] != "img_name,target":
        return (1, "header")
    seen = set()
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split(",")
        if len(fields) != 2:
            return (number, "columns")
        name, target = fields
        if target not in ("0", "1"):
            return (number, "label")
        if name in seen:
            return (number, "duplicate")
        seen.add(name)
    return GOOD


def _problem_found(out, name):
    require(isinstance(out, (tuple, list)) and len(out) == 2,
            f"{name} should return a pair (line number, problem), (0, 'ok') for a good file; it returned {out!r}",
            zh=f"{name} 应当返回一对（行号，问题），没有问题的文件返回 (0, 'ok')；它返回的是 {out!r}")
    number = as_number(out[0], name, integer=True, what="the line number", what_zh="行号")
    require(out[1] in PROBLEMS,
            f"the problem should be one of {', '.join(repr(p) for p in PROBLEMS)}; {name} returned {out[1]!r}",
            zh=f"问题应为 {', '.join(repr(p) for p in PROBLEMS)} 之一；{name} 返回的是 {out[1]!r}")
    return (number, out[1])


def _checking(lines, start=2, accept=("0", "1"), duplicates=True, columns=None):
    """The right checks over ``lines`` (the header already read), with one of them changed."""
    seen = set()
    for number, line in enumerate(lines, start=start):
        fields = columns(line) if columns else line.split(",")
        if len(fields) != 2:
            return (number, "columns")
        name, target = fields
        if target not in accept:
            return (number, "label")
        if duplicates and name in seen:
            return (number, "duplicate")
        seen.add(name)
    return GOOD


def _counted_from_zero(text):
    lines = text.removeprefix("\ufeff").splitlines()
    if lines[0] != "img_name,target":
        return (0, "header")
    return _checking(lines[1:], start=1)


def _header_not_counted(text):
    lines = text.removeprefix("\ufeff").splitlines()
    if lines[0] != "img_name,target":
        return (1, "header")
    return _checking(lines[1:], start=1)


def _kept_the_bom(text):
    lines = text.splitlines()
    if lines[0] != "img_name,target":
        return (1, "header")
    return _checking(lines[1:])


def _split_on_newlines(text):
    lines = text.removeprefix("\ufeff").split("\n")
    if lines[0] != "img_name,target":
        return (1, "header")
    return _checking(lines[1:])


def _split_on_newlines_skipping_empty(text):
    lines = [line for line in text.removeprefix("\ufeff").split("\n") if line]
    if lines[0] != "img_name,target":
        return (1, "header")
    return _checking(lines[1:])


def _numbered_lines(text):
    lines = text.removeprefix("\ufeff").splitlines()
    return lines, lines[0] == "img_name,target"


def _blank_lines_skipped(text):
    lines, header = _numbered_lines(text)
    if not header:
        return (1, "header")
    kept = [(number, line) for number, line in enumerate(lines[1:], start=2) if line.strip()]
    for number, line in kept:
        found = _checking([line], start=number)
        if found != GOOD:
            return found
    names = [line.split(",")[0] for _, line in kept]
    repeated = [number for index, (number, _) in enumerate(kept) if names[index] in names[:index]]
    return (repeated[0], "duplicate") if repeated else GOOD


def _labels_as_numbers(text):
    lines, header = _numbered_lines(text)
    return _checking(lines[1:], accept=("0", "1", "0.0", "1.0", " 0", " 1")) if header else (1, "header")


def _no_duplicate_check(text):
    lines, header = _numbered_lines(text)
    return _checking(lines[1:], duplicates=False) if header else (1, "header")


def _duplicate_at_its_first_line(text):
    lines, header = _numbered_lines(text)
    found = _checking(lines[1:]) if header else (1, "header")
    if found[1] == "duplicate":
        name = lines[found[0] - 1].split(",")[0]
        first = next(number for number, line in enumerate(lines[1:], start=2) if line.split(",")[0] == name)
        return (first, "duplicate")
    return found


def _split_once(text):
    lines, header = _numbered_lines(text)
    return _checking(lines[1:], columns=lambda line: line.split(",", 1)) if header else (1, "header")


def _header_not_checked(text):
    lines = text.removeprefix("\ufeff").splitlines()
    return _checking(lines[1:])


def _file(*lines, bom=False, crlf=False, final_newline=True):
    ending = "\r\n" if crlf else "\n"
    return ("\ufeff" if bom else "") + ending.join(lines) + (ending if final_newline else "")


HEADER = "img_name,target"


def _none_is_not_a_verdict(checker):
    """The q2 checker, with its own word for an answer that returns None (for a good file, or by a lost return)."""
    def checked(fn):
        try:
            return checker(fn)
        except Wrong as wrong:
            if "returned None" not in wrong.en:
                raise
            raise Wrong("first_problem returned None: when the file has no problem, return (0, 'ok'), so that every "
                        "answer is a pair (line number, problem); and check that no path through it ends without a "
                        "return", zh="first_problem 返回了 None：文件没有问题时请返回 (0, 'ok')，让每个答案都是一对"
                        "（行号，问题）；再检查它有没有哪条路径结束时没有 return") from None

    checked.cases, checked.expected_results = checker.cases, checker.expected_results
    return checked

q2 = Question("q2", "the first problem in a label file", chapter=CHAPTER, checker=_none_is_not_a_verdict(function_checker(
    "first_problem", _first_problem, forbid=READERS, convert=_problem_found,
    compare=lambda actual, expected: actual == expected,
    cases=[Case(_file(HEADER, "a1.jpg,0", "b2.jpg,1", "c3.jpg,1"), note="a good file", note_zh="没有问题的文件"),
           Case(_file(HEADER, "a1.jpg,1", "b2.jpg,0", "c3.jpg,0", bom=True, crlf=True),
                note="a good file saved on Windows: a byte-order mark and \\r\\n line ends",
                note_zh="在 Windows 上保存的没有问题的文件：带字节顺序标记和 \\r\\n 行尾"),
           Case(_file("image,label", "a1.jpg,0", "b2.jpg,1"), note="another header", note_zh="表头不对"),
           Case(_file(HEADER, "a1.jpg,0", "b2.jpg,1.0", "c3.jpg,1"), note="a label written as 1.0",
                note_zh="标签写成了 1.0"),
           Case(_file(HEADER, "a1.jpg,0", "b2.jpg,1", "c3.jpg,1,extra", "d4.jpg,0"), note="an extra column",
                note_zh="多了一列"),
           Case(_file(HEADER, "a1.jpg,0", "", "b2.jpg,1"), note="a blank line in the middle", note_zh="中间有一个空行"),
           Case(_file(HEADER, "a1.jpg,0", "b2.jpg,1", "c3.jpg,0", "b2.jpg,0", "e5.jpg,1"),
                note="a name given twice", note_zh="同一个名字出现了两次"),
           Case(_file(HEADER, "a1.jpg,1", "b2.jpg,0", "c3.jpg,0", "d4.jpg,2", crlf=True),
                note="\\r\\n line ends and a label 2", note_zh="\\r\\n 行尾，以及标签 2"),
           Case(_file(HEADER, "p.jpg,1", "q.jpg,0", "r.jpg,1", "s.jpg,0", "t.jpg,1", "q.jpg,1", "u.jpg,0",
                      bom=True, crlf=True), hidden=True)],
    mistakes=[
        Mistake(_counted_from_zero,
                "the line numbers start at 0: an editor, and every message the learner reads, counts the header "
                "as line 1",
                "行号从 0 开始了：编辑器以及学习者读到的每条消息都把表头算作第 1 行"),
        Mistake(_header_not_counted,
                "the line numbers skip the header: the first image's line is line 2 of the file, where an editor "
                "would take you",
                "行号跳过了表头：第一张图像所在的是文件的第 2 行，编辑器跳转的也是那一行"),
        Mistake(_kept_the_bom,
                "a file saved with a byte-order mark (BOM, '\\ufeff' before the first character) is reported as a "
                "bad header: strip the mark before comparing the header",
                "带字节顺序标记（BOM，即第一个字符前的 '\\ufeff'）保存的文件被报告成表头错误：比较表头之前先去掉这个标记"),
        Mistake(_split_on_newlines,
                "split('\\n') leaves a '\\r' at the end of every line of a Windows file, and an empty string after "
                "the final line break: split the text with splitlines()",
                "split('\\n') 会在 Windows 文件的每一行末尾留下 '\\r'，并在最后一个换行之后多出一个空字符串："
                "请用 splitlines() 分行"),
        Mistake(_split_on_newlines_skipping_empty,
                "split('\\n') leaves a '\\r' at the end of every line of a Windows file, so '0\\r' is not a label: "
                "split the text with splitlines()",
                "split('\\n') 会在 Windows 文件的每一行末尾留下 '\\r'，于是 '0\\r' 不是合法标签：请用 splitlines() 分行"),
        Mistake(_blank_lines_skipped,
                "a blank line in the middle is skipped: nothing may be skipped silently, since a blank line often "
                "means lines were lost. Report it as a line whose columns are wrong",
                "中间的空行被跳过了：什么都不能悄悄跳过，空行往往意味着丢了行。请把它报告为列数不对的一行"),
        Mistake(_labels_as_numbers,
                "a label such as '1.0' is accepted because it reads as a number: the file allows exactly '0' and "
                "'1'; '1.0' usually means the labels went through a float column, and must be fixed at the source",
                "'1.0' 这样的标签因为能读成数字就被接受了：文件只允许恰好为 '0' 或 '1' 的标签；'1.0' 通常说明标签经过"
                "了浮点数列，必须从源头改正"),
        Mistake(_no_duplicate_check,
                "a name given twice passes: which of its two labels would training use? Keep the names seen so far "
                "and report a repeat",
                "同一个名字出现两次也通过了：训练时该用它的哪个标签？请记下已经见过的名字，遇到重复就报告"),
        Mistake(_duplicate_at_its_first_line,
                "the duplicate is reported at its first line, which was fine when it was read: report the line "
                "where the name comes again",
                "重复的名字被报告在了它第一次出现的那一行，而那一行在读到时并没有问题：请报告名字再次出现的那一行"),
        Mistake(_split_once,
                "split(',', 1) keeps everything after the first comma as the label, so an extra column is reported "
                "as a bad label: split on every comma and count the fields",
                "split(',', 1) 把第一个逗号之后的全部内容都当成了标签，于是多出的一列被报告成了标签错误："
                "请按每个逗号分割，并数一数字段个数"),
        Mistake(_header_not_checked,
                "the header is never checked: a file with other column names (say image,label) may hold other "
                "things in other orders. The first line must be exactly img_name,target",
                "表头从未被检查：列名不同的文件（比如 image,label）里的内容和顺序都可能不同。第一行必须恰好是 img_name,target"),
    ],
    note=("the first problem, with the line an editor shows, is what a message needs so the file can be fixed "
          "in one go.", "第一个问题和编辑器里显示的行号，正是一条消息让人一次就能改好文件所需要的。"))),
    hint="Take the text apart into lines the way an editor does (what does a Windows file end its lines with? what "
         "might come before the header?), then number the lines as an editor does.",
    reference=_first_problem, title_zh="标签文件中的第一个问题",
    hint_zh="像编辑器那样把文本拆成行（Windows 文件的行以什么结尾？表头前面可能有什么？），再像编辑器那样给行编号。")


# q3 · a fixed high-pass residual, channel by channel ------------------------------------------------

def _high_pass(images, kernel):
    channels, size = images.shape[1], kernel.shape[-1]
    padded = F.pad(images, [size // 2] * 4, mode="replicate")
    return F.conv2d(padded, kernel.expand(channels, 1, size, size), groups=channels)


def _residual(out, name):
    return as_tensor(out, name, floating=True, what="the residual", what_zh="残差")


def _mixed_channels(images, kernel):
    channels, size = images.shape[1], kernel.shape[-1]
    padded = F.pad(images, [size // 2] * 4, mode="replicate")
    return F.conv2d(padded, kernel.expand(channels, channels, size, size))


def _no_padding(images, kernel):
    channels, size = images.shape[1], kernel.shape[-1]
    return F.conv2d(images, kernel.expand(channels, 1, size, size), groups=channels)


def _padding_one(images, kernel):
    channels, size = images.shape[1], kernel.shape[-1]
    padded = F.pad(images, [1] * 4, mode="replicate")
    return F.conv2d(padded, kernel.expand(channels, 1, size, size), groups=channels)


def _zero_padding(images, kernel):
    channels, size = images.shape[1], kernel.shape[-1]
    return F.conv2d(images, kernel.expand(channels, 1, size, size), padding=size // 2, groups=channels)


def _grey_first(images, kernel):
    grey = images.mean(1, keepdim=True)
    return _high_pass(grey, kernel).expand_as(images).contiguous()


def _flipped(images, kernel):
    return _high_pass(images, kernel.flip(-1, -2))


def _reflected_edges(images, kernel):
    channels, size = images.shape[1], kernel.shape[-1]
    padded = F.pad(images, [size // 2] * 4, mode="reflect")
    return F.conv2d(padded, kernel.expand(channels, 1, size, size), groups=channels)


def _kernel_rescaled(images, kernel):
    return _high_pass(images, kernel / kernel.abs().sum())


def _magnitude(images, kernel):
    return _high_pass(images, kernel).abs()


def _image_minus_filtered(images, kernel):
    return images - _high_pass(images, kernel)


def _images(seed, n, channels, side):
    return torch.rand(n, channels, side, side, generator=torch.Generator().manual_seed(seed))


def _residual_shape(fn):
    """A residual the size of the image whatever the kernel: the padding must follow the kernel's size."""
    images, kernel = _images(7, 1, 2, 9), torch.ones(7, 7) / 49 - torch.eye(7) / 7
    out = _residual(call(fn, images, kernel, name="high_pass"), "high_pass")
    require(out.shape == images.shape,
            f"with a 7×7 kernel the residual has shape {tuple(out.shape)}, the image {tuple(images.shape)}: pad by "
            "half the kernel's size (kernel.shape[-1] // 2), not by a fixed number",
            zh=f"用 7×7 的卷积核时残差的形状是 {tuple(out.shape)}，图像是 {tuple(images.shape)}：按卷积核大小的一半"
               "（kernel.shape[-1] // 2）填充，而不是一个固定的数")


FIRST_ORDER = torch.tensor([[0.0, 0.0, 0.0], [0.0, -1.0, 1.0], [0.0, 0.0, 0.0]])
LAPLACIAN = torch.tensor([[0.0, -1.0, 0.0], [-1.0, 4.0, -1.0], [0.0, -1.0, 0.0]]) / 4
SQUARE_5 = torch.tensor([[-1.0, 2, -2, 2, -1], [2, -6, 8, -6, 2], [-2, 8, -12, 8, -2],
                         [2, -6, 8, -6, 2], [-1, 2, -2, 2, -1]]) / 12


def _skewed(seed, size):
    kernel = torch.randn(size, size, generator=torch.Generator().manual_seed(seed))
    return kernel - kernel.mean()


q3 = Question("q3", "a fixed high-pass residual, channel by channel", chapter=CHAPTER, checker=function_checker(
    "high_pass", _high_pass, convert=_residual,
    cases=[Case(_images(1, 2, 3, 6), FIRST_ORDER, note="a kernel that differences neighbours, left to right",
                note_zh="左右相邻像素相减的卷积核"),
           Case(_images(2, 1, 3, 8), SQUARE_5, note="a 5×5 kernel", note_zh="5×5 的卷积核"),
           Case(_images(3, 3, 1, 5), LAPLACIAN, note="greyscale images", note_zh="灰度图像"),
           Case(_images(4, 2, 4, 7), _skewed(4, 3), hidden=True)],
    mistakes=[
        Mistake(_mixed_channels,
                "each output channel is the sum over all input channels: one conv2d without groups mixes the "
                "colours. Filter each channel on its own: groups equal to the number of channels, and a weight "
                "of shape [C, 1, k, k]",
                "每个输出通道都是所有输入通道之和：不分组的 conv2d 把颜色混在了一起。请让每个通道单独滤波："
                "groups 等于通道数，权重形状为 [C, 1, k, k]"),
        Mistake(_no_padding,
                "the residual is smaller than the image: without padding a k × k kernel loses k // 2 pixels on "
                "every side. Pad every side by k // 2 first, so the residual lines up with the image",
                "残差比图像小：不填充时，k × k 的卷积核会在每条边上丢掉 k // 2 个像素。请先在每条边上填充 k // 2，"
                "让残差和图像对齐"),
        Mistake(_padding_one,
                "the padding is fixed at 1, which keeps the size for a 3 × 3 kernel only: pad by half the kernel's "
                "size, kernel.shape[-1] // 2",
                "填充固定为 1，只有 3 × 3 的卷积核才能保持尺寸：请按卷积核大小的一半填充，即 kernel.shape[-1] // 2"),
        Mistake(_grey_first,
                "the images were made grey before filtering, so every channel carries the same residual: a trace "
                "left in one colour channel only is lost. Filter each channel on its own",
                "滤波之前先把图像变成了灰度，于是每个通道的残差都一样：只留在某一个颜色通道里的痕迹就丢了。请让每个通道单独滤波"),
        Mistake(_flipped,
                "the kernel was flipped: conv2d computes a cross-correlation, and the kernel is to be applied as it "
                "is given, exactly as conv2d does",
                "卷积核被翻转了：conv2d 计算的是互相关，本题要求像 conv2d 那样按给定的样子使用卷积核"),
        Mistake(_zero_padding,
                "the borders were padded with zeros (conv2d's padding=), so a flat image gets a bright frame of "
                "residual at its edges, a trace the detector could learn instead of the real ones. Pad by "
                "repeating the border pixels: F.pad(..., mode='replicate')",
                "边界用零填充了（conv2d 的 padding=），于是一张平坦的图像在边缘出现一圈明亮的残差，检测器可能去学这个"
                "痕迹而不是真正的痕迹。请重复边界像素来填充：F.pad(..., mode='replicate')"),
        Mistake(_reflected_edges,
                "the borders were padded by reflection: the question asks for the border pixels repeated "
                "(mode='replicate'), as the detector's first layer does, so the two agree at the edges",
                "边界用反射方式填充了：本题要求重复边界像素（mode='replicate'），与检测器的第一层相同，这样两者在边缘处一致"),
        Mistake(_kernel_rescaled,
                "the kernel was rescaled: use it exactly as given (a high-pass kernel sums to 0, so it cannot be "
                "normalised to sum to 1 anyway)",
                "卷积核被重新缩放了：请完全按给定的样子使用它（高通卷积核的和为 0，本来也无法归一化成和为 1）"),
        Mistake(_magnitude,
                "the residual's sign was dropped (abs): a residual is signed, and its sign carries the pattern "
                "(a checkerboard alternates + and −)",
                "残差的符号被丢掉了（abs）：残差是有正负的，正负号本身就携带着图案（棋盘格就是 + 和 − 交替）"),
        Mistake(_image_minus_filtered,
                "you returned the image minus the filtered image: the kernel already is the high-pass filter, so "
                "the residual is the filtered image itself",
                "你返回的是原图减去滤波后的图：这个卷积核本身就是高通滤波器，所以残差就是滤波后的图像本身"),
    ],
    then=_residual_shape,
    note=("a depthwise convolution with a fixed kernel: the detector's first layer, which lets it see the "
          "pixel-level traces rather than the picture.",
          "一个卷积核固定的逐通道卷积：这正是检测器的第一层，让它看到像素级的痕迹，而不是画面内容。")),
    hint="F.conv2d with groups= filters channels separately; what shape must the weight have then? How many pixels "
         "must F.pad add on each side for a k × k kernel, and with which mode?",
    reference=_high_pass, title_zh="逐通道的固定高通残差",
    hint_zh="带 groups= 的 F.conv2d 会分别对各通道滤波；那时权重应是什么形状？对 k × k 的卷积核，F.pad 需要在每边补多少像素、用哪种模式？")
