"""utils/data.py: the digits split, the loaders' settings, standardisation, and Fashion-MNIST /
MNIST read from files in the real format, or failing fast and clearly when they cannot be
downloaded. No test touches the internet: "unreachable" is a closed or silent local port."""
import functools
import gzip
import hashlib
import http.server
import socket
import struct
import threading
import time
import urllib.request

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from torch.utils.data import SequentialSampler  # noqa: E402
from torchvision.datasets import MNIST, FashionMNIST  # noqa: E402

from utils import data  # noqa: E402
from utils.download import DownloadFailed  # noqa: E402
from utils.data import (DataUnavailable, digits_loaders, digits_splits, fashion_mnist_loaders,  # noqa: E402
                        make_loaders, mnist_loaders, standardize)
from utils.plots import show_images  # noqa: E402


# ------------------------------------------------------------------------------ digits

def test_digits_split_sizes_types_and_ranges():
    splits = digits_splits()
    assert [len(part) for part in splits] == [1077, 360, 360]
    for X, y in (part.tensors for part in splits):
        assert X.dtype == torch.float32 and y.dtype == torch.int64
        assert X.shape[1:] == (64,) and 0.0 <= X.min() and X.max() <= 1.0
    assert digits_splits(image=True).train.tensors[0].shape == (1077, 1, 8, 8)


def test_digits_split_is_a_stratified_partition_of_all_1797():
    splits = digits_splits()
    everything = torch.cat([part.tensors[0] for part in splits]).numpy()
    original = load_digits().data / 16.0
    as_sorted = lambda rows: rows[np.lexsort(rows.T[::-1])]  # noqa: E731
    np.testing.assert_allclose(as_sorted(everything), as_sorted(original), atol=1e-6)
    for part in (splits.val, splits.test):  # 10 classes of about 180 each: 36 of each in 360
        counts = torch.bincount(part.tensors[1], minlength=10)
        assert counts.min() >= 34 and counts.max() <= 38, counts


def test_digits_split_is_deterministic_and_follows_the_seed():
    first, again, other = digits_splits(0), digits_splits(0), digits_splits(1)
    for a, b in zip(first, again):
        assert all(torch.equal(s, t) for s, t in zip(a.tensors, b.tensors))
    assert not torch.equal(first.test.tensors[1], other.test.tensors[1])


def test_loaders_shuffle_only_train_with_a_seeded_generator():
    loaders = digits_loaders(batch_size=64, device="cpu")
    assert isinstance(loaders.val.sampler, SequentialSampler)
    assert isinstance(loaders.test.sampler, SequentialSampler)
    first_batch = next(iter(loaders.train))[1]
    assert torch.equal(first_batch, next(iter(digits_loaders(batch_size=64, device="cpu").train))[1])
    assert not torch.equal(first_batch, next(iter(loaders.train))[1])  # a new epoch, a new order
    assert [len(y) for _, y in loaders.train][-1] == 1077 % 64  # the short last batch is kept


def test_evaluating_does_not_shift_the_training_order():
    plain = digits_loaders(device="cpu")
    evaluated = digits_loaders(device="cpu")
    for _ in evaluated.val:
        pass
    torch.manual_seed(123)  # nor does the global stream
    assert torch.equal(next(iter(plain.train))[1], next(iter(evaluated.train))[1])


@pytest.mark.filterwarnings("ignore:This DataLoader will create")
def test_loader_settings_fit_the_machine(monkeypatch):
    splits = digits_splits()
    cpu = make_loaders(splits, device="cpu")
    assert cpu.train.num_workers == 0 and not cpu.train.pin_memory
    cuda = make_loaders(splits, device="cuda")  # only built, never iterated
    assert cuda.train.pin_memory and cuda.train.num_workers == 0  # tensors in memory: no workers

    class FromDisk(torch.utils.data.Dataset):
        def __len__(self):
            return 10

        def __getitem__(self, index):
            return torch.zeros(3), 0

    monkeypatch.setattr(data, "usable_cores", lambda: 8)
    disk = data.Splits(FromDisk(), FromDisk(), FromDisk())
    assert make_loaders(disk, device="cuda").train.num_workers == 4
    assert make_loaders(disk, device="cpu").train.num_workers == 0


def test_standardize_uses_the_training_statistics_only():
    train = torch.tensor([[0.0, 1.0, 5.0], [2.0, 3.0, 5.0], [4.0, 5.0, 5.0]])
    test = torch.tensor([[2.0, 3.0, 7.0]])
    train_z, test_z = standardize(train, test)
    torch.testing.assert_close(train_z.mean(0), torch.zeros(3))
    torch.testing.assert_close(train_z[:, :2].std(0), torch.ones(2))
    assert torch.isfinite(train_z).all()  # the constant third column is centred, not divided by 0
    torch.testing.assert_close(test_z, torch.tensor([[0.0, 0.0, 2.0]]))


def test_show_images_draws_a_labelled_grid():
    X, y = digits_splits().train.tensors
    figure = show_images(X[:10], y[:10], title="digits", ncols=4)
    shown = [ax for ax in figure.axes if ax.images]
    assert len(shown) == 10 and len(figure.axes) == 12  # 3 rows of 4, the last two blank
    assert shown[0].get_title() == str(y[0].item())
    assert shown[0].images[0].get_array().shape == (8, 8)
    assert len(show_images(torch.rand(2, 3, 5, 5), title="colour").axes) == 2
    with pytest.raises(ValueError, match="not square"):
        show_images(torch.rand(2, 10), title="bad")


# ---------------------------------------------------------------- Fashion-MNIST and MNIST

def write_idx(folder, train_n=60, test_n=20):
    """Files in the real IDX format that torchvision reads, with a label pattern to check."""
    folder.mkdir(parents=True)
    for prefix, n in (("train", train_n), ("t10k", test_n)):
        images = (np.arange(n * 28 * 28) % 256).astype(np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        for kind, header, body in (("images-idx3", struct.pack(">IIII", 0x803, n, 28, 28), images),
                                   ("labels-idx1", struct.pack(">II", 0x801, n), labels)):
            (folder / f"{prefix}-{kind}-ubyte").write_bytes(header + body.tobytes())
    return folder


@pytest.fixture
def no_internet(monkeypatch):
    """Any attempt to open a URL fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError("a test tried to use the network")
    monkeypatch.setattr(urllib.request, "urlopen", refuse)


@pytest.mark.parametrize("cls, loaders", [(FashionMNIST, fashion_mnist_loaders), (MNIST, mnist_loaders)])
def test_files_on_disk_load_without_the_network(tmp_path, no_internet, cls, loaders):
    write_idx(tmp_path / cls.__name__ / "raw")
    train, val, test = loaders(batch_size=16, root=tmp_path, val_size=10, device="cpu")
    assert [len(part.dataset) for part in (train, val, test)] == [50, 10, 20]
    X, y = next(iter(test))
    assert X.shape == (16, 784) and X.dtype == torch.float32 and 0 <= X.min() and X.max() <= 1
    assert y.dtype == torch.int64 and y[:3].tolist() == [0, 1, 2]
    images = loaders(root=tmp_path, val_size=10, image=True, device="cpu").train.dataset.tensors[0]
    assert images.shape == (50, 1, 28, 28)


def test_mnist_padded_to_32_for_lenet(tmp_path, no_internet):
    write_idx(tmp_path / "MNIST" / "raw")
    plain = mnist_loaders(root=tmp_path, val_size=10, image=True, device="cpu")
    padded = mnist_loaders(root=tmp_path, val_size=10, pad_to_32=True, device="cpu")
    for part, padded_part in zip(plain, padded):
        X, X32 = part.dataset.tensors[0], padded_part.dataset.tensors[0]
        assert X32.shape == (len(X), 1, 32, 32)
        assert torch.equal(X32[:, :, 2:30, 2:30], X)  # the digit, unchanged, in the middle
        border = X32.clone()
        border[:, :, 2:30, 2:30] = 0
        assert not border.any()  # and a blank border all round


def _assert_helpful(message, root):
    assert "could not be downloaded" in message
    assert str(root) in message  # where the files should go
    assert "quick profile" in message and "COURSE_PROFILE" in message  # or how to switch


def test_offline_download_fails_fast_with_a_clear_message(tmp_path, monkeypatch):
    with socket.socket() as closed:  # a port nobody listens on: connection refused at once
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setattr(FashionMNIST, "mirrors", [f"http://127.0.0.1:{port}/"])
    start = time.perf_counter()
    with pytest.raises(DataUnavailable) as error:
        fashion_mnist_loaders(root=tmp_path, timeout=2.0)
    assert time.perf_counter() - start < 5
    _assert_helpful(str(error.value), tmp_path / "FashionMNIST" / "raw")
    assert "Fashion-MNIST" in str(error.value)


def test_a_server_that_never_answers_times_out(tmp_path, monkeypatch):
    with socket.socket() as silent:  # accepts connections into its backlog, never replies
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        monkeypatch.setattr(MNIST, "mirrors", [f"http://127.0.0.1:{silent.getsockname()[1]}/"])
        start = time.perf_counter()
        with pytest.raises(DataUnavailable) as error:
            mnist_loaders(root=tmp_path, timeout=0.5)
        assert time.perf_counter() - start < 5
    _assert_helpful(str(error.value), tmp_path / "MNIST" / "raw")
    assert socket.getdefaulttimeout() is None  # the global timeout is left as it was


def test_a_lookup_that_hangs_is_cut_off(tmp_path, monkeypatch):
    def hang(*args, **kwargs):  # as a DNS lookup with no network can, ignoring socket timeouts
        time.sleep(30)
    monkeypatch.setattr(urllib.request, "urlopen", hang)
    start = time.perf_counter()
    with pytest.raises(DataUnavailable, match="no answer within 0.3 s"):
        fashion_mnist_loaders(root=tmp_path, timeout=0.3)
    assert time.perf_counter() - start < 5


def test_a_download_that_breaks_midway_is_reported(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "_reachable", lambda url, timeout: None)  # the probe gets through

    def broken(url, dest, **kwargs):
        raise DownloadFailed(f"could not download {url} after 3 tries: connection reset")
    monkeypatch.setattr(data, "download", broken)
    with pytest.raises(DataUnavailable, match="Fashion-MNIST: could not download .* connection reset"):
        fashion_mnist_loaders(root=tmp_path)


@pytest.fixture
def local_mirror(tmp_path, monkeypatch):
    """An HTTP server on 127.0.0.1 serving MNIST's four files, gzipped, with their real md5 check."""
    served = write_idx(tmp_path / "served", train_n=30, test_n=10)
    resources = []
    for path in sorted(served.iterdir()):
        packed = gzip.compress(path.read_bytes())
        (served / f"{path.name}.gz").write_bytes(packed)
        resources.append((f"{path.name}.gz", hashlib.md5(packed).hexdigest()))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(MNIST, "mirrors", ["http://127.0.0.1:1/", f"http://127.0.0.1:{server.server_port}/"])
    monkeypatch.setattr(MNIST, "resources", resources)
    yield tmp_path / "data"
    server.shutdown()
    server.server_close()


def test_a_reachable_mirror_is_downloaded_checked_and_unpacked(local_mirror):
    loaders = mnist_loaders(batch_size=8, root=local_mirror, val_size=10, device="cpu")  # first mirror refuses
    assert [len(part.dataset) for part in loaders] == [20, 10, 10]
    raw = local_mirror / "MNIST" / "raw"
    assert {p.name for p in raw.iterdir()} >= {"train-images-idx3-ubyte", "t10k-labels-idx1-ubyte"}
    assert not list(raw.glob("*.part"))  # every file was renamed into place whole
    again = mnist_loaders(batch_size=8, root=local_mirror, val_size=10, device="cpu")  # now from disk
    assert torch.equal(again.test.dataset.tensors[0], loaders.test.dataset.tensors[0])


def test_damaged_files_are_named_with_the_fix(tmp_path, monkeypatch):
    raw = write_idx(tmp_path / "FashionMNIST" / "raw")
    (raw / "t10k-labels-idx1-ubyte").write_bytes(b"\x00\x00")  # cut short: torchvision cannot read it
    monkeypatch.setattr(data, "_fetch", lambda *args: None)  # the four files are there: nothing to fetch
    with pytest.raises(DataUnavailable, match="cannot be read.*Delete that folder"):
        fashion_mnist_loaders(root=tmp_path, val_size=10)
