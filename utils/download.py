"""Downloads that cannot leave a mess: checksum, retries with back-off, resume, atomic rename.

Introduced in chapter 05, where the full profile first fetches a real data set. A download
goes to ``<name>.part`` next to its final name, resumes from there when the server allows
(HTTP Range) and restarts cleanly when it does not, and is renamed to the final name only once
its checksum matches, so a file under its final name is always whole. Being offline, a missing
file (404) or a checksum that keeps failing ends at once with a message that names the manual
route; passing network errors are retried with exponential back-off.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

CHUNK = 1 << 16


class DownloadFailed(RuntimeError):
    """A file could not be fetched; the message says why and how to get it by hand."""


def file_checksum(path: Path, algorithm: str = "sha256") -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _split_checksum(checksum: str) -> tuple[str, str]:
    algorithm, _, value = checksum.partition(":")
    if not value or algorithm not in ("md5", "sha256"):
        raise ValueError(f"checksum {checksum!r}: write it as 'sha256:<hex>' or 'md5:<hex>'")
    return algorithm, value.lower()


def _offline(error: BaseException) -> bool:
    """Errors that mean 'no network here' rather than 'try again in a moment'."""
    reason = getattr(error, "reason", error)
    return isinstance(reason, (socket.gaierror, ConnectionRefusedError)) or "Name or service not known" in str(reason)


def _fetch(url: str, part: Path, timeout: float) -> None:
    """Append the rest of ``url`` to ``part`` (resuming), or rewrite it when the server won't resume."""
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        if error.code == 416 and have:  # nothing left to fetch: the part file is complete
            return
        raise
    with response:
        resumed = have and response.status == 206
        announced = int(response.headers.get("Content-Length") or -1)
        received = 0
        with open(part, "ab" if resumed else "wb") as handle:
            try:
                for block in iter(lambda: response.read(CHUNK), b""):
                    handle.write(block)
                    received += len(block)
            except http.client.IncompleteRead as cut:
                handle.write(cut.partial)
                received += len(cut.partial)
            handle.flush()
            os.fsync(handle.fileno())
    if 0 <= received < announced:  # keep what came: the next try resumes from it
        raise ConnectionError(f"the connection closed after {received} of {announced} bytes")


def download(url: str, dest: Path, *, checksum: str, manual: str, retries: int = 3,
             backoff: float = 1.0, timeout: float = 20.0) -> Path:
    """Fetch ``url`` to ``dest`` verified by ``checksum`` ('sha256:…' or 'md5:…').

    ``manual`` tells the learner how to get the file by hand; it ends every failure message.
    A ``dest`` that already matches its checksum is used as it is, without the network.
    """
    dest = Path(dest)
    algorithm, expected = _split_checksum(checksum)
    if dest.exists():
        if file_checksum(dest, algorithm) == expected:
            return dest
        dest.unlink()  # a wrong file under the final name: fetch it again
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    last = "unknown error"
    for attempt in range(1, retries + 1):
        try:
            _fetch(url, part, timeout)
        except urllib.error.HTTPError as error:
            if 400 <= error.code < 500:
                raise DownloadFailed(f"{url} answered HTTP {error.code} ({error.reason}): the file is not "
                                     f"there. {manual}") from None
            last = f"HTTP {error.code} ({error.reason})"
        except (urllib.error.URLError, OSError) as error:
            if _offline(error):
                raise DownloadFailed(f"cannot reach {url}: this machine seems to be offline "
                                     f"({getattr(error, 'reason', error)}). {manual}") from None
            last = f"{type(error).__name__}: {getattr(error, 'reason', error)}"
        else:
            if file_checksum(part, algorithm) == expected:
                os.replace(part, dest)
                return dest
            last = f"the {algorithm} checksum did not match (the file is corrupt or was changed upstream)"
            part.unlink()  # a corrupt part cannot be resumed: start over
        if attempt < retries:
            time.sleep(backoff * 2 ** (attempt - 1))
    kept = f" The partial file {part} is kept, so the next try resumes it." if part.exists() else ""
    raise DownloadFailed(f"could not download {url} after {retries} tries: {last}.{kept} {manual}")
