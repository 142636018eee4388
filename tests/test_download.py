"""Downloads against a local server: resume, restart, retry, checksum, 404, offline."""
import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from utils import download as dl

PAYLOAD = bytes(range(256)) * 400  # 100 KiB
SHA = "sha256:" + hashlib.sha256(PAYLOAD).hexdigest()
MANUAL = "Or download it by hand into data/."


class Server:
    """A local file server that can fail, cut off, ignore Range, or serve the wrong bytes."""

    def __init__(self):
        self.fail_first, self.cut_at, self.honour_range, self.body, self.requests = 0, None, True, PAYLOAD, []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append(self.headers.get("Range"))
                if self.path != "/file.bin":
                    return self.send_error(404, "Not Found")
                if server.fail_first > 0:
                    server.fail_first -= 1
                    return self.send_error(503, "Busy")
                start = int(self.headers["Range"][6:-1]) if self.headers.get("Range") and server.honour_range else 0
                body = server.body[start:]
                if server.cut_at is not None:  # announce everything, send a part, hang up
                    self.send_response(206 if start else 200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body[: server.cut_at])
                    server.cut_at = None
                    return
                self.send_response(206 if start else 200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/file.bin"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()


@pytest.fixture
def server():
    served = Server()
    yield served
    served.httpd.shutdown()


def test_download_verifies_and_renames(server, tmp_path):
    path = dl.download(server.url, tmp_path / "f.bin", checksum=SHA, manual=MANUAL)
    assert path.read_bytes() == PAYLOAD and not (tmp_path / "f.bin.part").exists()
    dl.download(server.url, path, checksum=SHA, manual=MANUAL)  # already there: no request
    assert len(server.requests) == 1


def test_a_cut_off_download_resumes_from_the_part_file(server, tmp_path):
    server.cut_at = 30_000
    path = dl.download(server.url, tmp_path / "f.bin", checksum=SHA, manual=MANUAL, backoff=0)
    assert path.read_bytes() == PAYLOAD
    assert server.requests[-1] == f"bytes={30_000}-"


def test_a_server_that_ignores_range_restarts_cleanly(server, tmp_path):
    (tmp_path / "f.bin.part").write_bytes(PAYLOAD[:5000])
    server.honour_range = False
    assert dl.download(server.url, tmp_path / "f.bin", checksum=SHA, manual=MANUAL).read_bytes() == PAYLOAD


def test_passing_errors_are_retried_with_back_off(server, tmp_path, monkeypatch):
    sleeps = []
    monkeypatch.setattr(dl.time, "sleep", sleeps.append)
    server.fail_first = 2
    dl.download(server.url, tmp_path / "f.bin", checksum=SHA, manual=MANUAL, backoff=0.5)
    assert sleeps == [0.5, 1.0]


def test_a_wrong_checksum_never_lands_under_the_final_name(server, tmp_path, monkeypatch):
    monkeypatch.setattr(dl.time, "sleep", lambda s: None)
    server.body = PAYLOAD[::-1]
    with pytest.raises(dl.DownloadFailed, match=r"after 3 tries: the sha256 checksum did not match.*by hand"):
        dl.download(server.url, tmp_path / "f.bin", checksum=SHA, manual=MANUAL)
    assert list(tmp_path.iterdir()) == []


def test_a_missing_file_fails_at_once_naming_the_manual_route(server, tmp_path):
    with pytest.raises(dl.DownloadFailed, match=r"HTTP 404.*Or download it by hand"):
        dl.download(server.url.replace("file.bin", "nope.bin"), tmp_path / "f.bin", checksum=SHA, manual=MANUAL)
    assert len(server.requests) == 1


def test_offline_fails_at_once(tmp_path, monkeypatch):
    def no_dns(*args, **kwargs):
        raise dl.urllib.error.URLError(dl.socket.gaierror(-2, "Name or service not known"))
    monkeypatch.setattr(dl.urllib.request, "urlopen", no_dns)
    with pytest.raises(dl.DownloadFailed, match="seems to be offline.*by hand"):
        dl.download("https://example.invalid/f.bin", tmp_path / "f.bin", checksum=SHA, manual=MANUAL)


def test_checksum_must_name_its_algorithm(tmp_path):
    with pytest.raises(ValueError, match="sha256:<hex>"):
        dl.download("http://127.0.0.1/x", tmp_path / "x", checksum="abc", manual=MANUAL)
