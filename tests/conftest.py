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


_TINY_LM_CORPUS = (
    "Functional connectivity between the default mode and the frontoparietal "
    "networks is markedly elevated (z=+2.1). Visual network strength is typical "
    "(z=-0.3). Question: what is the sex of the subject? Answer: male | female. "
    "What is the diagnosis? autism control. Age group: child adolescent adult. "
    "Modularity, global efficiency and clustering are mildly reduced (z=-1.2). "
    "Gradient range, variance, amplitude, fALFF, autocorrelation, yes no 0 1 2 3 "
)


@pytest.fixture(scope="session")
def tiny_causal_lm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random 2-layer GPT-2 (width 32, 512 positions) with a byte-level BPE.

    Built offline from ``GPT2Config`` and saved like a real checkpoint (config,
    safetensors, tokenizer files), so that it loads through the same ``hf``
    backbone code as GPT-2, Qwen3 or Gemma. The byte-level tokenizer encodes any
    text (no unknown tokens).
    """
    pytest.importorskip("transformers")
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-causal-lm")
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator([_TINY_LM_CORPUS] * 4, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<|endoftext|>",
        eos_token="<|endoftext|>",
        unk_token="<|endoftext|>",
    )
    eos = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_embd=32,
        n_layer=2,
        n_head=2,
        n_positions=512,
        bos_token_id=eos,
        eos_token_id=eos,
    )
    torch.manual_seed(0)
    GPT2LMHeadModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def torchrun():
    """Launch ``torchrun --nproc_per_node N <args>`` on localhost (gloo, 1 thread).

    Returns a function ``run(args, n_processes, cwd)`` that asserts a zero exit
    status (with the end of the output in the message) and returns the
    ``subprocess.CompletedProcess``.
    """
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[1]

    def run(args: list[str], n_processes: int, cwd: Path) -> object:
        port = _free_port()
        env = {
            **os.environ,
            "OMP_NUM_THREADS": "1",
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
            "PYTHONPATH": os.pathsep.join(
                [str(repo), *filter(None, [os.environ.get("PYTHONPATH")])]
            ),
        }
        command = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nnodes=1",
            f"--nproc_per_node={n_processes}",
            "--master_addr=127.0.0.1",
            f"--master_port={port}",
            *map(str, args),
        ]
        result = subprocess.run(
            command, env=env, cwd=cwd, capture_output=True, text=True, timeout=280
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        return result

    return run
