"""Settings for every test run, unit tests and notebooks alike.

The notebook kernels that nbval starts inherit this process's environment, so setting it here
puts them in the quick profile, makes failed checks fail the run, and sizes their threads. The
learner's own settings must not change what the tests see: messages are always in English
(COURSE_LANG) and no front end is assumed (COURSE_HEADLESS, which VS Code's terminal would
otherwise flip through VSCODE_PID).
"""
import atexit
import os
import random
import shutil
import tempfile

import pytest

os.environ["COURSE_TESTING"] = "1"
os.environ["COURSE_LANG"] = "en"
os.environ["COURSE_HEADLESS"] = "1"
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

pytest.register_assert_rewrite("tests.student_copy")
from tests import student_copy  # noqa: E402  (after the settings above: it imports utils)
from utils.cpus import usable_cores  # noqa: E402

# No notebook may rely on a file another notebook (or an earlier run) left behind: every test run
# starts from an empty data folder, and the notebooks run in a shuffled order (see below).
if "COURSE_DATA" not in os.environ:
    os.environ["COURSE_DATA"] = tempfile.mkdtemp(prefix="course-data-")
    atexit.register(shutil.rmtree, os.environ["COURSE_DATA"], ignore_errors=True)
os.environ.setdefault("COURSE_SHUFFLE_SEED", str(random.SystemRandom().randrange(10_000)))


def pytest_report_header(config):
    return (f"course: data folder {os.environ['COURSE_DATA']}, notebook order shuffled with "
            f"COURSE_SHUFFLE_SEED={os.environ['COURSE_SHUFFLE_SEED']}, network "
            f"{'isolated' if os.environ.get('COURSE_NETWORK_ISOLATED') else 'not isolated'}")


@pytest.hookimpl(trylast=True)  # after -k and -m have deselected: a partly selected chapter gets no student copy
def pytest_collection_modifyitems(session, config, items):
    """Each chapter's student copy after its cells; whole notebooks in a shuffled order (cells stay in order)."""
    items[:] = student_copy.append_student_copies(items)
    files = list(dict.fromkeys(item.fspath for item in items))
    random.Random(int(os.environ["COURSE_SHUFFLE_SEED"])).shuffle(files)
    rank = {path: index for index, path in enumerate(files)}
    items.sort(key=lambda item: rank[item.fspath])  # a stable sort keeps each file's own order


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    student_copy.record_instructor_cell(item, report)
    return report


def pytest_configure(config):
    # With pytest-xdist each worker runs its own kernels: share the cores out, one or more each,
    # instead of letting every kernel start a thread per core (15x slower when oversubscribed).
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    os.environ["OMP_NUM_THREADS"] = str(max(1, usable_cores() // workers))
