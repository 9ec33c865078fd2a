"""Shared test fixtures: no network, thread limits, real-data locator."""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path

import pytest

# The shared real data lies beside the repository on developer machines and in CI;
# it never exists on a user's machine, so tests using it skip cleanly without it.
_SHARED_ENV = os.environ.get("BRAINLM_DECODE_SHARED_DATA")
SHARED_DATA = (
    Path(_SHARED_ENV)
    if _SHARED_ENV
    else Path(__file__).resolve().parents[1].parent / "shared" / "data"
)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MPLBACKEND", "Agg")


def pytest_configure(config: pytest.Config) -> None:
    """Keep torch to the cores CI has (it reads OMP_NUM_THREADS when present)."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a core dependency
        return
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))


def _is_local(address: object) -> bool:
    """Whether a socket address points at this machine (loopback or a Unix path)."""
    if isinstance(address, (str, bytes)):  # AF_UNIX
        return True
    if not isinstance(address, tuple) or not address:
        return False
    host = address[0]
    if isinstance(host, bytes):
        host = host.decode()
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


class NetworkAccessError(RuntimeError):
    """Raised when a test tries to reach a host other than this machine."""


@pytest.fixture(autouse=True)
def _block_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail loudly on any connection outside loopback: tests never download."""
    original_connect = socket.socket.connect
    original_connect_ex = socket.socket.connect_ex

    def guarded_connect(sock: socket.socket, address: object) -> None:
        if not _is_local(address):
            raise NetworkAccessError(
                f"test tried to open a network connection to {address!r}"
            )
        return original_connect(sock, address)

    def guarded_connect_ex(sock: socket.socket, address: object) -> int:
        if not _is_local(address):
            raise NetworkAccessError(
                f"test tried to open a network connection to {address!r}"
            )
        return original_connect_ex(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """Path to ``../shared/data``; skips the test when the folder is missing."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is not available")
    return SHARED_DATA


@pytest.fixture
def tmp_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty brainlm_decode data dir, also set through BRAINLM_DECODE_DATA."""
    data_dir = tmp_path / "brainlm_decode_data"
    data_dir.mkdir()
    monkeypatch.setenv("BRAINLM_DECODE_DATA", str(data_dir))
    return data_dir
