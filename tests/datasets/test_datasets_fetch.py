"""Tests of data-dir resolution, checksummed downloads and the file registry.

Downloads are served by a local HTTP server on 127.0.0.1; nothing leaves the
machine.
"""

from __future__ import annotations

import hashlib
import http.server
import pickle
import re
import socket
import threading
import urllib.error
from pathlib import Path

import pytest

from brainlm_decode.datasets import (
    DATA_DIR_ENV_VAR,
    FILE_REGISTRY,
    ChecksumError,
    DataUnavailableError,
    _fetch,
    fetch_file,
    fetch_registered,
    get_data_dir,
)

CONTENT = b"brainlm_decode test payload\n" * 1000
SHA = hashlib.sha256(CONTENT).hexdigest()
BAD_SHA = "0" * 64


class _Server:
    """A tiny HTTP server that serves in-memory files and counts requests."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {"/data/payload.bin": CONTENT}
        self.requests: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404, "Not Found")
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def server():
    srv = _Server()
    yield srv
    srv.close()


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _leftovers(folder: Path) -> list[str]:
    """Temporary or partial files left in ``folder``."""
    return [p.name for p in folder.iterdir() if p.name.endswith(".part")]


# --------------------------------------------------------------------------- #
# get_data_dir
# --------------------------------------------------------------------------- #


def test_get_data_dir_resolution_order(monkeypatch, tmp_path):
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv(DATA_DIR_ENV_VAR, raising=False)
    assert get_data_dir() == home / "brainlm_decode_data"

    monkeypatch.setenv(DATA_DIR_ENV_VAR, str(tmp_path / "from_env"))
    assert get_data_dir() == tmp_path / "from_env"

    # the argument wins over the environment variable
    assert get_data_dir(tmp_path / "explicit") == tmp_path / "explicit"
    assert get_data_dir(str(tmp_path / "explicit")) == tmp_path / "explicit"

    # an empty variable is ignored; "~" is expanded; nothing is created
    monkeypatch.setenv(DATA_DIR_ENV_VAR, "  ")
    assert get_data_dir() == home / "brainlm_decode_data"
    assert get_data_dir("~/elsewhere") == home / "elsewhere"
    assert not home.exists()


def test_get_data_dir_bad_type():
    with pytest.raises(TypeError, match="'data_dir' parameter of get_data_dir"):
        get_data_dir(3)


# --------------------------------------------------------------------------- #
# fetch_file
# --------------------------------------------------------------------------- #


def test_download_then_cache_hit_without_request(server, tmp_path):
    url = f"{server.url}/data/payload.bin"
    path = fetch_file(url, data_dir=tmp_path, sha256=SHA, verbose=0)
    assert path == tmp_path / "payload.bin"
    assert path.read_bytes() == CONTENT
    assert server.requests == ["/data/payload.bin"]
    assert _leftovers(tmp_path) == []

    # cached: no request at all, with or without checksum
    assert fetch_file(url, data_dir=tmp_path, sha256=SHA, verbose=0) == path
    assert fetch_file(url, data_dir=tmp_path, verbose=0) == path
    assert len(server.requests) == 1

    # overwrite downloads again
    fetch_file(url, data_dir=tmp_path, sha256=SHA, overwrite=True, verbose=0)
    assert len(server.requests) == 2


def test_download_uses_data_dir_env_and_filename(server, tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_DIR_ENV_VAR, str(tmp_path / "env"))
    path = fetch_file(
        f"{server.url}/data/payload.bin", filename="renamed.bin", verbose=0
    )
    assert path == tmp_path / "env" / "renamed.bin"
    assert path.read_bytes() == CONTENT


def test_progress_and_messages(server, tmp_path, capsys):
    fetch_file(f"{server.url}/data/payload.bin", data_dir=tmp_path, verbose=1)
    assert "Downloading payload.bin" in capsys.readouterr().err
    fetch_file(
        f"{server.url}/data/payload.bin", data_dir=tmp_path, overwrite=True, verbose=0
    )
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_bad_checksum_leaves_no_file(server, tmp_path):
    url = f"{server.url}/data/payload.bin"
    with pytest.raises(ChecksumError, match="SHA-256") as excinfo:
        fetch_file(url, data_dir=tmp_path, sha256=BAD_SHA, verbose=0)
    assert url in str(excinfo.value)
    assert list(tmp_path.iterdir()) == []


def test_failed_redownload_keeps_good_file(server, tmp_path):
    url = f"{server.url}/data/payload.bin"
    path = fetch_file(url, data_dir=tmp_path, sha256=SHA, verbose=0)

    # the server now serves a corrupted file: the good one is kept
    server.files["/data/payload.bin"] = b"corrupted"
    with pytest.raises(ChecksumError):
        fetch_file(url, data_dir=tmp_path, sha256=SHA, overwrite=True, verbose=0)
    assert path.read_bytes() == CONTENT

    # the server lost the file (HTTP 404): the good one is kept
    del server.files["/data/payload.bin"]
    with pytest.raises(DataUnavailableError, match="404"):
        fetch_file(url, data_dir=tmp_path, sha256=SHA, overwrite=True, verbose=0)
    assert path.read_bytes() == CONTENT
    assert sorted(p.name for p in tmp_path.iterdir()) == ["payload.bin"]


def test_cached_file_with_wrong_checksum_is_replaced(server, tmp_path):
    (tmp_path / "payload.bin").write_bytes(b"stale")
    with pytest.warns(UserWarning, match="expected SHA-256"):
        path = fetch_file(
            f"{server.url}/data/payload.bin", data_dir=tmp_path, sha256=SHA, verbose=0
        )
    assert path.read_bytes() == CONTENT
    assert len(server.requests) == 1


def test_offline_error_names_file_url_and_path(tmp_path):
    url = f"http://127.0.0.1:{_closed_port()}/files/atlas.nii.gz"
    with pytest.raises(DataUnavailableError) as excinfo:
        fetch_file(url, data_dir=tmp_path, sha256=SHA, verbose=0, timeout=5)
    message = str(excinfo.value)
    assert "'atlas.nii.gz'" in message
    assert url in message
    assert str(tmp_path / "atlas.nii.gz") in message
    assert excinfo.value.path == tmp_path / "atlas.nii.gz"
    assert isinstance(excinfo.value, OSError)
    assert _leftovers(tmp_path) == []
    # picklable, e.g. across joblib workers
    clone = pickle.loads(pickle.dumps(excinfo.value))
    assert str(clone) == message


def test_offline_error_from_url_error(monkeypatch, tmp_path):
    def no_network(*args, **kwargs):
        raise urllib.error.URLError(socket.gaierror(-2, "Name or service not known"))

    monkeypatch.setattr(_fetch.urllib.request, "urlopen", no_network)
    with pytest.raises(DataUnavailableError, match="Name or service not known"):
        fetch_file("https://example.org/x/file.json", data_dir=tmp_path, verbose=0)


def test_offline_cache_hit_needs_no_network(monkeypatch, tmp_path):
    (tmp_path / "payload.bin").write_bytes(CONTENT)

    def no_network(*args, **kwargs):
        raise AssertionError("the network must not be used on a cache hit")

    monkeypatch.setattr(_fetch.urllib.request, "urlopen", no_network)
    path = fetch_file(
        "https://example.org/data/payload.bin",
        data_dir=tmp_path,
        sha256=SHA,
        verbose=0,
    )
    assert path == tmp_path / "payload.bin"


def test_local_path_is_accepted(tmp_path):
    local = tmp_path / "mine.txt"
    local.write_text("hello")
    assert fetch_file(local) == local
    assert fetch_file(str(local), sha256=BAD_SHA) == local  # never checksummed
    assert fetch_file(local.as_uri()) == local
    with pytest.raises(FileNotFoundError, match="does not exist"):
        fetch_file(tmp_path / "missing.txt")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        fetch_file("not/a/url/nor/a/file.txt")


def test_filename_must_be_plain(tmp_path):
    with pytest.raises(ValueError, match="plain file name"):
        fetch_file("https://example.org/a.txt", data_dir=tmp_path, filename="x/a.txt")


# --------------------------------------------------------------------------- #
# registry
# --------------------------------------------------------------------------- #


def test_registry_entries_are_well_formed():
    assert FILE_REGISTRY
    for name, (url, sha256) in FILE_REGISTRY.items():
        assert "/" in name and not name.startswith("/")
        assert url.startswith("https://")
        assert sha256 is None or re.fullmatch(r"[0-9a-f]{64}", sha256)


def test_fetch_registered(server, tmp_path, monkeypatch):
    monkeypatch.setitem(
        FILE_REGISTRY, "tests/sub/payload.bin", (f"{server.url}/data/payload.bin", SHA)
    )
    path = fetch_registered("tests/sub/payload.bin", data_dir=tmp_path, verbose=0)
    assert path == tmp_path / "tests" / "sub" / "payload.bin"
    assert path.read_bytes() == CONTENT
    fetch_registered("tests/sub/payload.bin", data_dir=tmp_path, verbose=0)
    assert len(server.requests) == 1


def test_fetch_registered_unknown_name():
    with pytest.raises(ValueError, match="Unknown registered file") as excinfo:
        fetch_registered("cognitive_atlas/TaskCollection.jsn")
    assert "Did you mean" in str(excinfo.value)
