"""The grader: a right, an empty, a crashing and a slow submission are all graded."""
import csv

import nbformat

from utils.grading import grade_folder, questions_of

RIGHT_TIMING = ("def seconds_per_call(work, synchronize, clock, repeats):\n    work()\n    synchronize()\n"
                "    start = clock()\n    for _ in range(repeats):\n        work()\n    synchronize()\n"
                "    return (clock() - start) / repeats")
ANSWERS = {
    "right": ["def to_device(features, labels, device):\n    return features.to(device, torch.float32), labels.to(device)"
              ".long()",
              "def split_indices(n, n_val, seed):\n    order = torch.randperm(n, generator=torch.Generator()"
              ".manual_seed(seed))\n    return order[n_val:], order[:n_val]",
              RIGHT_TIMING],
    "empty": ["def to_device(features, labels, device):\n    raise NotImplementedError()",
              "def split_indices(n, n_val, seed):\n    raise NotImplementedError()",
              "def seconds_per_call(work, synchronize, clock, repeats):\n    raise NotImplementedError()"],
}
CHECKS = ["ex.q1.check(to_device)", "ex.q2.check(split_indices)", "ex.q3.check(seconds_per_call)"]


def submission(folder, student, answers, *, before_checks="", name="00_setup.ipynb"):
    cells = [nbformat.v4.new_code_cell("import torch\nfrom utils.exercises import ch00 as ex")]
    if before_checks:
        cells.append(nbformat.v4.new_code_cell(before_checks))
    for answer, check in zip(answers, CHECKS):
        cells += [nbformat.v4.new_code_cell(answer), nbformat.v4.new_code_cell(check)]
    (folder / student).mkdir(parents=True, exist_ok=True)
    nbformat.write(nbformat.v4.new_notebook(cells=cells), folder / student / name)


def test_questions_of_a_chapter():
    assert questions_of("00") == ["q1", "q2", "q3"]
    assert questions_of("99") == []


def test_every_submission_is_graded(tmp_path):
    folder = tmp_path / "submissions"
    submission(folder, "alice", ANSWERS["right"])
    submission(folder, "bob", ANSWERS["empty"])
    submission(folder, "carol", ANSWERS["right"], before_checks="raise RuntimeError('oops')")
    submission(folder, "dave", ANSWERS["right"], before_checks="import time\ntime.sleep(60)")
    submission(folder, "erin", ANSWERS["right"], name="my_notes.ipynb")
    wrong = ANSWERS["right"][:2] + [RIGHT_TIMING.replace("(clock() - start) / repeats", "clock() - start")]
    submission(folder, "frank", wrong)

    grades = grade_folder(folder, tmp_path / "grades.csv", timeout=8)

    rows = list(csv.DictReader(open(tmp_path / "grades.csv", encoding="utf-8")))
    assert len(rows) == len(grades) == 3 * 5 + 1
    by = lambda student: [r for r in rows if r["student_file"].startswith(student)]  # noqa: E731
    assert [r["passed"] for r in by("alice")] == ["True"] * 3
    assert all(r["passed"] == "False" and "not attempted" in r["message"] for r in by("bob"))
    assert all("not checked: a cell raised an error: RuntimeError: oops" in r["message"] for r in by("carol"))
    assert all("time limit of 8 s" in r["message"] for r in by("dave"))
    assert "no chapter number" in by("erin")[0]["message"]
    assert [r["passed"] for r in by("frank")] == ["True", "True", "False"]
    assert "divide by the number of calls" in by("frank")[2]["message"]
    scores = {r["student_file"]: r["score"] for r in csv.DictReader(open(tmp_path / "grades_scores.csv", encoding="utf-8"))}
    assert scores["alice/00_setup.ipynb"] == "1.00" and scores["frank/00_setup.ipynb"] == "0.67"
    assert scores["dave/00_setup.ipynb"] == "0.00"
