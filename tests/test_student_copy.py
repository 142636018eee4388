"""The comparison of a chapter's student copy with its instructor run (tests/student_copy.py).

The runs themselves happen with the notebooks: every chapter's last nbval item is its student copy.
"""
import pytest

from tests.student_copy import compare_runs

QUESTIONS = ["q1", "q2"]
RESULT = "✓ test accuracy = 0.97 (expected 0.9–1)\n"
TIMING = "✓ seconds per epoch = 0.31 (expected 0–5, a timing that varies from run to run)\n"
STUDENT = RESULT + "◌ q1 (a thing): not attempted yet.\n✗ q2 (another) is not correct yet: no.\n" + TIMING
INSTRUCTOR = RESULT + "✓ q1 (a thing): correct!\n✓ q2 (another): correct!\n" + TIMING.replace("0.31", "0.29")


def test_runs_that_agree_pass():
    compare_runs("42_a.ipynb", STUDENT, INSTRUCTOR, QUESTIONS)


@pytest.mark.parametrize("student, instructor, message", [
    (STUDENT.replace("◌ q1 (a thing): not attempted yet.\n", ""), INSTRUCTOR, r"the student copy checked \['q2'\]"),
    (STUDENT.replace("◌ q1", "✓ q1"), INSTRUCTOR, "a stub passed its check"),
    (STUDENT, INSTRUCTOR.replace("✓ q2", "✗ q2"), "instructor answers that fail"),
    (STUDENT, INSTRUCTOR.replace("0.97", "0.96"), "two runs recorded different results"),
    (STUDENT.replace(RESULT, ""), INSTRUCTOR.replace(RESULT, ""), "42_a.ipynb states no expected result"),
])
def test_each_difference_is_caught(student, instructor, message):
    with pytest.raises(AssertionError, match=message):
        compare_runs("42_a.ipynb", student, instructor, QUESTIONS)
