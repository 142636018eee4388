"""utils/fakes.py: the generated mini deepfake set is in the challenge's layout, balanced, split by
source photo, holds one kind out of training, is deterministic, and is rebuilt only when it must be."""
import collections
import json
import warnings

import numpy as np
import pytest
import torch

from utils import fakes
from utils.fakes import FAKE_KINDS, HELD_OUT, KINDS, make_fakes, read_kinds
from utils.ffdi import FFDIDataset, ffdi_loaders
from utils.imagesets import BadDataFolder

TINY = dict(size=16, train_size=48, val_size=40)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """An 88-image set at 16×16 in its own folder, shared by the tests that only read it."""
    return make_fakes(tmp_path_factory.mktemp("fakes") / "set", quiet=True, **TINY)


@pytest.fixture
def own_tiny(tmp_path):
    """A set of the test's own, to damage."""
    return make_fakes(tmp_path / "set", quiet=True, **TINY)


def fingerprint(root):
    return {path.relative_to(root).as_posix(): path.stat().st_mtime_ns for path in root.rglob("*") if path.is_file()}


def test_the_layout_is_the_challenges_and_ffdi_reads_it_without_warnings(tiny):
    phase1 = tiny / "phase1"
    assert sorted(p.name for p in tiny.iterdir()) == ["manifest.json", "phase1"]
    assert sorted(p.name for p in phase1.iterdir()) == ["trainset", "trainset_kinds.txt", "trainset_label.txt",
                                                         "valset", "valset_kinds.txt", "valset_label.txt"]
    assert (phase1 / "valset_label.txt").read_text().startswith("img_name,target\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an extra or a missing image would warn or raise
        loaders = ffdi_loaders(8, root=tiny, size=16, in_memory=True, strict=True)
    assert len(loaders.train.dataset) == 48 and len(loaders.val.dataset) == 40
    images, targets = next(iter(loaders.train))
    assert images.shape == (8, 3, 16, 16) and set(targets.tolist()) <= {0, 1}
    assert not list(tiny.parent.glob(".*"))  # no working folder left behind


def test_labels_are_balanced_and_agree_with_the_kinds(tiny):
    for split, count in (("trainset", 48), ("valset", 40)):
        data = FFDIDataset(tiny / "phase1" / split, tiny / "phase1" / f"{split}_label.txt")
        table = read_kinds(tiny, split)
        assert sorted(table) == sorted(data.names)
        assert [int(table[name].kind != "real") for name in data.names] == data.targets.tolist()
        kinds = collections.Counter(entry.kind for entry in table.values())
        assert kinds["real"] == count // 2  # half real, half fake
        shown = [kind for kind in FAKE_KINDS if split == "valset" or kind != HELD_OUT]
        assert sorted(k for k in kinds if k != "real") == sorted(shown)
        assert max(kinds[k] for k in shown) - min(kinds[k] for k in shown) <= 1  # the fakes shared equally
    kinds_in_order = [read_kinds(tiny, "valset")[name].kind for name in data.names]
    assert kinds_in_order != sorted(kinds_in_order, key=KINDS.index)  # the file order does not give kinds away


def test_the_held_out_kind_is_only_in_val_and_named_in_the_manifest(tiny, tmp_path):
    assert HELD_OUT in FAKE_KINDS
    assert HELD_OUT not in {entry.kind for entry in read_kinds(tiny, "trainset").values()}
    assert HELD_OUT in {entry.kind for entry in read_kinds(tiny, "valset").values()}
    assert json.loads((tiny / "manifest.json").read_text())["held_out"] == HELD_OUT
    every = make_fakes(tmp_path / "every", held_out=None, quiet=True, **TINY)
    assert {entry.kind for entry in read_kinds(every, "trainset").values()} == set(KINDS)


def test_the_split_is_by_source_photo(tiny):
    train = {entry.source for entry in read_kinds(tiny, "trainset").values()}
    val = {entry.source for entry in read_kinds(tiny, "valset").values()}
    assert train and val and not train & val
    assert set(fakes.TRAIN_PHOTOS).isdisjoint(fakes.VAL_PHOTOS)
    # the splices paste from the same split's photos: every crop a split uses comes from its own sources
    for split in ("trainset", "valset"):
        photos, faces = fakes._split_sources(split)
        rng = np.random.default_rng(0)
        assert {fakes._crop(rng, split, 16)[1] for _ in range(200)} <= set(photos) | set(faces)


def test_two_builds_are_byte_identical_and_the_seed_changes_them(tiny, tmp_path):
    again = make_fakes(tmp_path / "again", quiet=True, **TINY)
    files = sorted(p.relative_to(tiny) for p in (tiny / "phase1").rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in (again / "phase1").rglob("*") if p.is_file())
    assert all((tiny / f).read_bytes() == (again / f).read_bytes() for f in files)
    other = make_fakes(tmp_path / "other", quiet=True, seed=1, **TINY)
    assert (other / "phase1" / "valset_label.txt").read_text() != (tiny / "phase1" / "valset_label.txt").read_text()


def test_each_kind_changes_the_crop_it_starts_from():
    rng = np.random.default_rng(0)
    crop, _ = fakes._crop(rng, "trainset", 32)
    for kind, manipulate in fakes.MANIPULATIONS.items():
        changed = manipulate(np.random.default_rng(1), crop, "trainset")
        assert changed.shape == crop.shape, kind
        assert 0.003 < np.abs(changed - crop).mean() < 0.15, kind  # a trace, not a different picture


def test_a_complete_folder_is_reused_untouched(tiny, monkeypatch):
    before = fingerprint(tiny)
    monkeypatch.setattr(fakes, "_write", lambda *args: pytest.fail("regenerated a complete folder"))
    assert make_fakes(tiny, quiet=True, **TINY) == tiny
    assert fingerprint(tiny) == before


@pytest.mark.parametrize("damage, reason", [
    (lambda root: next((root / "phase1" / "valset").iterdir()).unlink(), "1 of its files are missing"),
    (lambda root: (root / "phase1" / "trainset_label.txt").write_text("img_name,target\n"), "checksum"),
    (lambda root: (root / "manifest.json").unlink(), "no manifest.json"),
    (lambda root: (root / "phase1" / "valset" / "extra.jpg").write_bytes(b""), "not part of the set"),
])
def test_a_damaged_folder_is_generated_again_with_a_message(own_tiny, capsys, damage, reason):
    damage(own_tiny)
    make_fakes(own_tiny, **TINY)
    assert reason in capsys.readouterr().out
    assert fakes._problem(own_tiny, fakes._settings(16, {"trainset": 48, "valset": 40}, HELD_OUT, 0)) is None


@pytest.mark.parametrize("change, written", [
    (dict(size=32), dict(size=32)), (dict(val_size=44), dict(counts={"trainset": 48, "valset": 44})),
    (dict(held_out="splice"), dict(held_out="splice")), (dict(held_out=None), dict(held_out=None)),
    (dict(seed=2), dict(seed=2)),
])
def test_other_settings_rebuild_the_folder(own_tiny, capsys, change, written):
    make_fakes(own_tiny, **{**TINY, **change})
    assert "made with other settings" in capsys.readouterr().out
    manifest = json.loads((own_tiny / "manifest.json").read_text())
    assert {key: manifest[key] for key in written} == written


def test_other_strengths_rebuild_the_folder(own_tiny, capsys, monkeypatch):
    monkeypatch.setattr(fakes, "UPSAMPLE_PHASE", fakes.UPSAMPLE_PHASE * 2)
    make_fakes(own_tiny, **TINY)
    assert "strengths" in capsys.readouterr().out


def test_the_default_folder_names_its_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA", str(tmp_path))
    assert make_fakes(quiet=True, **TINY) == tmp_path / "fakes" / f"16px-48-40-{HELD_OUT}-seed0"


def test_a_folder_with_other_files_is_never_overwritten(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("precious")
    with pytest.raises(FileExistsError, match="thesis.tex"):
        make_fakes(tmp_path / "mine", quiet=True, **TINY)


@pytest.mark.parametrize("change, message", [
    (dict(size=15), "even number"), (dict(held_out="gan"), "held_out='gan'"), (dict(train_size=10), "train_size=10"),
])
def test_bad_arguments_say_what_to_give(tmp_path, change, message):
    with pytest.raises(ValueError, match=message):
        make_fakes(tmp_path / "set", quiet=True, **{**TINY, **change})


def test_read_kinds_says_when_there_is_no_table(tmp_path, tiny):
    with pytest.raises(BadDataFolder, match="only the generated mini set"):
        read_kinds(tmp_path)
    broken = tmp_path / "broken" / "phase1"
    broken.mkdir(parents=True)
    (broken / "valset_kinds.txt").write_text("img_name,kind,source\na.jpg,gan,astronaut\n")
    with pytest.raises(BadDataFolder, match="line 2"):
        read_kinds(broken.parent)
    with pytest.raises(ValueError, match="split='test'"):
        read_kinds(tiny, "test")


def test_the_upsampling_fakes_carry_a_checkerboard():
    """The mean residual of the 2×2 phases differs for upsampling fakes and not for real crops."""
    def phase_spread(kind):
        spreads = []
        for index in range(20):
            rng = np.random.default_rng([5, index])
            crop, _ = fakes._crop(rng, "trainset", 32)
            image = torch.from_numpy(fakes.MANIPULATIONS[kind](rng, crop, "trainset") if kind != "real" else crop)
            grey = image.mean(-1)
            residual = grey - torch.nn.functional.avg_pool2d(grey[None, None], 3, 1, 1, count_include_pad=False)[0, 0]
            phases = torch.stack([residual[a::2, b::2].mean() for a in (0, 1) for b in (0, 1)])
            spreads.append(float(phases.abs().max()))
        return np.median(spreads)

    assert phase_spread("upsample") > 3 * phase_spread("real")


def test_the_upsampling_fakes_spectrum_peaks_at_the_nyquist_frequency():
    """Against real crops, their mean log spectrum rises most at (±N/2, ±N/2), (±N/2, 0) or (0, ±N/2)."""
    from utils.forensics import average_log_spectrum

    real, upsampled = [], []
    for index in range(60):
        rng = np.random.default_rng([7, index])
        crop, _ = fakes._crop(rng, "trainset", 32)
        real.append(crop)
        upsampled.append(fakes._upsample(rng, crop, "trainset"))
    as_batch = [torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2) for images in (real, upsampled)]
    difference = average_log_spectrum(as_batch[1]) - average_log_spectrum(as_batch[0])
    top = [divmod(int(index), 32) for index in difference.flatten().topk(3).indices]
    assert set(top) == {(0, 0), (0, 16), (16, 0)}  # row/column 0 is frequency -16 = -N/2; 16 is 0
