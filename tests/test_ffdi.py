"""utils/ffdi.py: the challenge's label files read as the real ones come (BOM, Windows line endings),
every broken label file and image folder stopped with one message naming the file and the line, the
unlabelled test set, the loaders, and the submission file written atomically and checked."""
import os
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from utils.data import DataUnavailable
from utils.ffdi import (CLASSES, BadSubmission, ExtraImagesWarning, FFDIDataset, LabelLine, check_submission,
                        ffdi_loaders, ffdi_root, read_labels, write_submission)
from utils.imagesets import BadDataFolder

NAMES = ("0a1b.jpg", "1c2d.jpg", "2e3f.jpg", "3a4b.jpg")
TARGETS = (1, 0, 0, 1)
GOOD = "img_name,target\n" + "".join(f"{name},{target}\n" for name, target in zip(NAMES, TARGETS))


def jpeg(path, value, size=(10, 8)):
    """A small JPEG whose pixels are all ``value``."""
    Image.fromarray(np.full((size[1], size[0], 3), value, np.uint8)).save(path, quality=95)
    return path


@pytest.fixture
def split(tmp_path):
    """A phase1/trainset folder of four images and its label file; the label file's path."""
    folder = tmp_path / "phase1" / "trainset"
    folder.mkdir(parents=True)
    for index, name in enumerate(NAMES):
        jpeg(folder / name, 40 * index)
    labels = tmp_path / "phase1" / "trainset_label.txt"
    labels.write_text(GOOD, encoding="utf-8")
    return labels


def dataset(labels, **kwargs):
    return FFDIDataset(labels.parent / "trainset", labels, **kwargs)


# ------------------------------------------------------------------------------ good label files

@pytest.mark.parametrize("encode", [
    lambda text: text.encode("utf-8"),
    lambda text: text.replace("\n", "\r\n").encode("utf-8"),  # Windows line endings
    lambda text: b"\xef\xbb\xbf" + text.encode("utf-8"),  # a UTF-8 byte-order mark, as Excel writes it
    lambda text: b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8"),  # both
    lambda text: text.rstrip("\n").encode("utf-8"),  # no newline at the end
    lambda text: (text + "\n\n").replace(",", " , ").encode("utf-8"),  # spaces around fields, blank lines at the end
])
def test_label_files_are_read_as_the_real_ones_come(tmp_path, encode):
    path = tmp_path / "labels.txt"
    path.write_bytes(encode(GOOD))
    assert read_labels(path) == [LabelLine(name, target, line)
                                 for line, (name, target) in enumerate(zip(NAMES, TARGETS), start=2)]


def test_the_dataset_gives_images_and_targets_in_the_label_files_order(split):
    data = dataset(split)
    assert len(data) == 4 and data.names == list(NAMES) and data.targets.tolist() == list(TARGETS)
    assert data.classes == CLASSES == ("real", "fake")
    image, target = data[2]
    assert image.shape == (3, 8, 10) and image.dtype == torch.float32 and target == 0
    assert torch.allclose(image, torch.full_like(image, 80 / 255), atol=2 / 255)  # JPEG of a flat grey: nearly exact


def test_in_memory_and_from_files_give_the_same_items_through_augment_then_transform(split):
    kwargs = dict(size=6, augment=lambda x: x * 2, transform=lambda x: x - 1)
    files, memory = dataset(split, **kwargs), dataset(split, in_memory=True, **kwargs)
    assert memory.images.shape == (4, 3, 6, 6) and memory.images.dtype == torch.uint8
    for index in range(4):
        (X, y), (X2, y2) = files[index], memory[index]
        assert torch.equal(X, X2) and y == y2 and X.shape == (3, 6, 6)
    assert files[3][0].mean().item() == pytest.approx(120 / 255 * 2 - 1, abs=0.02)


def test_a_test_set_has_no_labels_and_yields_names(split):
    folder = split.parent / "trainset"
    data = FFDIDataset(folder, size=4)
    assert data.targets is None and data.names == sorted(NAMES)
    image, name = data[1]
    assert name == "1c2d.jpg" and image.shape == (3, 4, 4)
    batch_images, batch_names = next(iter(torch.utils.data.DataLoader(data, batch_size=3)))
    assert batch_images.shape == (3, 3, 4, 4) and list(batch_names) == sorted(NAMES)[:3]


def test_hidden_files_are_ignored(split):
    (split.parent / "trainset" / ".DS_Store").write_bytes(b"macOS")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(dataset(split)) == 4 and len(FFDIDataset(split.parent / "trainset")) == 4


# ------------------------------------------------------------------------------- broken label files

HELP = r'see data/README\.md, "The deepfake challenge \(FFDI\)"'


@pytest.mark.parametrize("content, message", [
    ("image,label\n0a1b.jpg,1\n", r'line 1: expected the header "img_name,target", got "image,label"\. Check that '
                                  r'this is the right file'),
    ("0a1b.jpg,1\n1c2d.jpg,0\n", r'line 1: expected the header "img_name,target", got "0a1b.jpg,1"\. It looks like a '
                                 r"data line: add the header line first"),
    ("img_name,target\n0a1b.jpg,1\n1c2d.jpg\n", r'line 3: expected 2 columns "img_name,target", got 1: "1c2d.jpg". '
                                               r"Check that the file is comma-separated"),
    ("img_name\ttarget\n", r'line 1: expected the header "img_name,target", got "img_name\ttarget"'),
    ("img_name,target\n0a1b.jpg,1,0.93\n", r'line 2: expected 2 columns "img_name,target", got 3: "0a1b.jpg,1,0.93"'),
    ("img_name,target\n0a1b.jpg,1\n1c2d.jpg,2\n", r'line 3: unknown label "2" for 1c2d.jpg; the target is 1 \(fake\) '
                                                 r"or 0 \(real\)"),
    ("img_name,target\n0a1b.jpg,fake\n", r'line 2: unknown label "fake" for 0a1b.jpg'),
    ("img_name,target\n0a1b.jpg,1.0\n", r'line 2: unknown label "1.0"'),
    ("img_name,target\n0a1b.jpg,1\n\n1c2d.jpg,0\n", r"line 3 is blank\. Delete the blank line"),
    ("img_name,target\n0a1b.jpg,1\n1c2d.jpg,0\n0a1b.jpg,1\n", r'line 4: "0a1b.jpg" is named twice \(first on line 2\)'),
    ("img_name,target\n,1\n", r'line 2: "" is not an image\'s file name'),
    ("img_name,target\n../secret.jpg,1\n", r'line 2: "../secret.jpg" is not an image\'s file name'),
    ("", r" is empty: expected the header"),
    ("img_name,target\n", r" has its header but no lines"),
])
def test_a_broken_label_file_is_named_with_its_line(tmp_path, content, message):
    path = tmp_path / "labels.txt"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(BadDataFolder, match=rf"FFDI label file .*labels\.txt.*{message}.*{HELP}"):
        read_labels(path)


@pytest.mark.parametrize("data, message", [
    ("img_name,target\n0a1b.jpg,1\n假的.jpg,1\n".encode("gbk"), r"labels\.txt, line 3: byte 0xbc is not UTF-8 text\. "
                                                                 r"The file was saved in another encoding \(such as GBK"),
    ("img_name,target\n".encode("utf-16"), r"labels\.txt is UTF-16 text"),
])
def test_a_label_file_that_is_not_utf8_is_named_with_its_line(tmp_path, data, message):
    path = tmp_path / "labels.txt"
    path.write_bytes(data)
    with pytest.raises(BadDataFolder, match=message + r".*[Ss]ave it again as UTF-8"):
        read_labels(path)


def test_a_missing_label_file_is_named(tmp_path):
    with pytest.raises(BadDataFolder, match=r"FFDI label file .*nowhere.txt does not exist"):
        read_labels(tmp_path / "nowhere.txt")


# ------------------------------------------------------------------------------- broken image folders

def test_an_image_missing_from_the_folder_is_named_with_its_line(split):
    (split.parent / "trainset" / "2e3f.jpg").unlink()
    with pytest.raises(BadDataFolder, match=r"trainset_label\.txt, line 4: the image 2e3f\.jpg is not in .*trainset\. "
                                            r"Check that the images were copied whole"):
        dataset(split)
    for name in NAMES[:2]:
        (split.parent / "trainset" / name).unlink()
    with pytest.raises(BadDataFolder, match=r"line 2: the image 0a1b\.jpg .*\(3 of the 4 images it names are missing\)"):
        dataset(split)


def test_a_folder_that_is_not_there_is_named(split):
    with pytest.raises(BadDataFolder, match=r"FFDI image folder .*valset does not exist"):
        FFDIDataset(split.parent / "valset", split)


def test_an_empty_image_is_named_with_its_line(split):
    (split.parent / "trainset" / "1c2d.jpg").write_bytes(b"")
    with pytest.raises(BadDataFolder, match=r"line 3: the image .*trainset/1c2d\.jpg is empty \(0 bytes\): its copy "
                                            r"was cut short"):
        dataset(split)


@pytest.mark.parametrize("damage", [
    lambda path: path.write_bytes(b"this is no JPEG at all"),  # corrupt
    lambda path: path.write_bytes(path.read_bytes()[:len(path.read_bytes()) // 2]),  # truncated: half the file
])
def test_a_corrupt_or_truncated_image_is_named_with_its_line(split, damage):
    jpeg(split.parent / "trainset" / "3a4b.jpg", 0, size=(64, 64))
    damage(split.parent / "trainset" / "3a4b.jpg")
    message = r"trainset_label\.txt, line 5: the image .*3a4b\.jpg cannot be read \(.*\); it is corrupt or truncated"
    with pytest.raises(BadDataFolder, match=message):
        dataset(split, in_memory=True)  # found when every image is decoded up front
    lazy = dataset(split)  # or when it is read
    assert lazy[0][1] == 1
    with pytest.raises(BadDataFolder, match=message):
        lazy[3]


def test_extra_images_are_counted_in_a_warning_or_refused_when_strict(split):
    for name in ("extra1.jpg", "extra2.jpg"):
        jpeg(split.parent / "trainset" / name, 0)
    with pytest.warns(ExtraImagesWarning, match=r"trainset holds 2 files that .*trainset_label\.txt does not name "
                                                r"\(extra1\.jpg, extra2\.jpg\); they are not used\. Pass strict=True"):
        data = dataset(split)
    assert data.names == list(NAMES)  # the extra images are not used
    with pytest.raises(BadDataFolder, match=r"holds 2 files that .* does not name .*Move them out of the folder"):
        dataset(split, strict=True)


def test_an_unlabelled_folder_must_hold_only_images(split):
    (split.parent / "trainset" / "notes.txt").write_text("x")
    with pytest.raises(BadDataFolder, match=r"holds notes\.txt, which is not an image"):
        FFDIDataset(split.parent / "trainset")
    empty = split.parent / "testset"
    empty.mkdir()
    with pytest.raises(BadDataFolder, match=r"testset holds no images"):
        FFDIDataset(empty)


def test_images_of_several_sizes_need_a_size_to_be_held_in_memory(split):
    jpeg(split.parent / "trainset" / "0a1b.jpg", 0, size=(12, 8))
    with pytest.raises(BadDataFolder, match=r"come in 2 sizes .* pass size="):
        dataset(split, in_memory=True)
    assert dataset(split, in_memory=True, size=5).images.shape == (4, 3, 5, 5)


# ------------------------------------------------------------------------------------ the loaders

def test_loaders_read_phase1_with_augmentation_on_the_training_images_only(split):
    (split.parent / "valset").mkdir()
    for name in NAMES[:2]:
        jpeg(split.parent / "valset" / name, 200)
    (split.parent / "valset_label.txt").write_text("img_name,target\n0a1b.jpg,0\n1c2d.jpg,1\n")
    loaders = ffdi_loaders(2, root=split.parent.parent, size=4, in_memory=True, augment=lambda x: x * 0,
                           device="cpu")
    assert loaders.test is None and len(loaders.train.dataset) == 4 and loaders.val.dataset.targets.tolist() == [0, 1]
    images, targets = next(iter(loaders.train))
    assert images.shape == (2, 3, 4, 4) and (images == 0).all()
    val_images, val_targets = next(iter(loaders.val))
    assert val_targets.tolist() == [0, 1] and (val_images > 0.7).all()
    orders = [[t.tolist() for _, t in ffdi_loaders(2, root=split.parent.parent, seed=seed, device="cpu").train]
              for seed in (0, 0, 1)]
    assert orders[0] == orders[1] and sorted(sum(orders[2], [])) == sorted(TARGETS)  # the training order is seeded


def test_loaders_without_the_data_say_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA", str(tmp_path))
    with pytest.raises(DataUnavailable, match=r"were not found: .*ffdi/phase1 does not exist\. Register for the "
                                              r"challenge.*quick profile"):
        ffdi_loaders()
    with pytest.raises(DataUnavailable, match=r"elsewhere/phase1 does not exist"):
        ffdi_root(tmp_path / "elsewhere")
    (tmp_path / "ffdi" / "phase1").mkdir(parents=True)
    assert ffdi_root() == tmp_path / "ffdi"


# ------------------------------------------------------------------------------ the submission file

def test_a_submission_is_written_exactly_and_checks_out(tmp_path):
    probabilities = torch.tensor([0.1, 0.93, 1 / 3, 0.0], dtype=torch.float64)
    path = write_submission(NAMES, probabilities, tmp_path / "out" / "submission.csv")
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[0] == "img_name,y_pred" and lines[1] == "0a1b.jpg,0.1" and lines[-1] == ""
    predictions = check_submission(path, reversed(NAMES))  # the order of the expected names does not matter
    assert predictions == dict(zip(NAMES, probabilities.tolist()))  # read back exactly
    assert sorted(p.name for p in path.parent.iterdir()) == ["submission.csv"]  # no temporary file left


def test_writing_a_submission_over_an_old_one_is_atomic(tmp_path, monkeypatch):
    path = write_submission(NAMES, [0.5] * 4, tmp_path / "submission.csv")

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        write_submission(NAMES, [0.9] * 4, path)
    assert check_submission(path, NAMES) == dict.fromkeys(NAMES, 0.5)  # the old file is whole
    assert [p.name for p in tmp_path.iterdir()] == ["submission.csv"]


@pytest.mark.parametrize("names, probabilities, message", [
    (NAMES, [0.5] * 3, r"got 4 names but 3 probabilities"),
    (NAMES, [0.5, 0.5, 1.2, 0.5], r"the probability for 2e3f\.jpg \(position 2\) is 1\.2, not a number in \[0, 1\]: "
                                  r"pass probabilities \(torch.sigmoid"),
    (NAMES, [0.5, float("nan"), 0.5, 0.5], r"the probability for 1c2d\.jpg \(position 1\) is nan"),
    (("a.jpg", "b.jpg", "a.jpg"), [0.5] * 3, r"a\.jpg is given twice \(the second time at position 2\)"),
    (("a.jpg", "b,c.jpg"), [0.5] * 2, r"name 1 \('b,c\.jpg'\) cannot go into a submission"),
])
def test_write_submission_refuses_what_the_challenge_would_reject(tmp_path, names, probabilities, message):
    with pytest.raises(BadSubmission, match=message):
        write_submission(names, probabilities, tmp_path / "submission.csv")
    assert not list(tmp_path.iterdir())


GOOD_SUBMISSION = "img_name,y_pred\n0a1b.jpg,0.9\n1c2d.jpg,0.1\n2e3f.jpg,0.2\n3a4b.jpg,0.8\n"


@pytest.mark.parametrize("change, message", [
    (lambda text: text.replace("y_pred", "target"), r'line 1: expected the header "img_name,y_pred", got '
                                                    r'"img_name,target"'),
    (lambda text: text.replace("0.1\n", "0.1,0.9\n"), r'line 3: expected 2 columns "img_name,y_pred", got 3'),
    (lambda text: text.replace("0.2\n", "high\n"), r'line 4: y_pred "high" for 2e3f\.jpg is not a number'),
    (lambda text: text.replace("0.2\n", "1.5\n"), r"line 4: y_pred 1\.5 for 2e3f\.jpg is not a probability in \[0, 1\]"),
    (lambda text: text.replace("0.2\n", "-3.2\n"), r"line 4: y_pred -3\.2 .* not the logits"),
    (lambda text: text.replace("0.2\n", "nan\n"), r"line 4: y_pred nan for 2e3f\.jpg is not a probability"),
    (lambda text: text + "0a1b.jpg,0.3\n", r'line 6: "0a1b\.jpg" is named twice \(first on line 2\)'),
    (lambda text: text + "9z9z.jpg,0.3\n", r"line 6: 9z9z\.jpg is not one of the 4 images to predict"),
    (lambda text: text.replace("1c2d.jpg,0.1\n", ""), r"has no line for 1 of the 4 images \(1c2d\.jpg\)\. Predict "
                                                      r"every image"),
])
def test_check_submission_names_each_problem(tmp_path, change, message):
    path = tmp_path / "submission.csv"
    path.write_text(change(GOOD_SUBMISSION), encoding="utf-8")
    with pytest.raises(BadSubmission, match=r"submission .*submission\.csv.*" + message):
        check_submission(path, NAMES)


def test_check_submission_reads_windows_line_endings_and_a_bom(tmp_path):
    path = tmp_path / "submission.csv"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD_SUBMISSION.replace("\n", "\r\n").encode())
    assert check_submission(path, NAMES) == {"0a1b.jpg": 0.9, "1c2d.jpg": 0.1, "2e3f.jpg": 0.2, "3a4b.jpg": 0.8}
