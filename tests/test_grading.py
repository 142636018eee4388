"""The grader: a right, an empty, a crashing and a slow submission are all graded."""
import csv

import nbformat

from utils.grading import grade_folder, questions_of

ANSWERS = {
    "right": ["def to_course_device(x, device):\n    return x.to(device=device, dtype=torch.float32)",
              "def seeded_sample(seed, n):\n    return torch.randn(n, generator=torch.Generator().manual_seed(seed))",
              "def epochs_for(profile):\n    return profile.pick(quick=3, full=30)"],
    "empty": ["def to_course_device(x, device):\n    raise NotImplementedError()",
              "def seeded_sample(seed, n):\n    raise NotImplementedError()",
              "def epochs_for(profile):\n    raise NotImplementedError()"],
}
CHECKS = ["ex.q1.check(to_course_device)", "ex.q2.check(seeded_sample)", "ex.q3.check(epochs_for)"]


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
    wrong = ANSWERS["right"][:2] + ["def epochs_for(profile):\n    return profile.pick(quick=30, full=3)"]
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
    assert "swapped" in by("frank")[2]["message"]
    scores = {r["student_file"]: r["score"] for r in csv.DictReader(open(tmp_path / "grades_scores.csv", encoding="utf-8"))}
    assert scores["alice/00_setup.ipynb"] == "1.00" and scores["frank/00_setup.ipynb"] == "0.67"
    assert scores["dave/00_setup.ipynb"] == "0.00"
