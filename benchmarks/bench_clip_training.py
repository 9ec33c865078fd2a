"""Benchmark: ``train_clip`` (accelerate) against a plain PyTorch loop.

Both train the same :class:`~brainlm_decode.clip.model.CLIPModel` with the same
:class:`~brainlm_decode.clip.loss.ClipLoss`, AdamW parameter groups, batch split
(``ceil(n / batch_size)`` equal batches per epoch), logit-scale clamp, per-epoch
validation and best-weights copy; the plain loop has no accelerate, no input checks
and no bookkeeping. Each variant runs in its own subprocess so its peak memory is
its own. Data: random but paired embeddings (image = linear map of text + noise),
10,000 pairs of 384-d text (all-MiniLM-L6-v2 width) and 512-d image (DiFuMo-512)
by default, 10% held out for validation.

Run::

    python benchmarks/bench_clip_training.py                 # CPU, 3 epochs
    python benchmarks/bench_clip_training.py --device cuda   # one GPU

On a shared machine pass ``--threads 1 --repeats 3``: the variants then alternate and
each keeps its fastest run, which filters out load from other processes.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import platform
import resource
import subprocess
import sys
import time
from typing import Any

import numpy as np


def _data(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    text = rng.normal(size=(args.n, args.text_dim)).astype(np.float32)
    mapping = rng.normal(size=(args.text_dim, args.image_dim)) / math.sqrt(
        args.text_dim
    )
    image = text @ mapping + 0.5 * rng.normal(size=(args.n, args.image_dim))
    return text, image.astype(np.float32)


def _rss_mib() -> float:
    scale = 1024 if platform.system() != "Darwin" else 1024 * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def _run_ours(args: argparse.Namespace, text: np.ndarray, image: np.ndarray) -> dict:
    from brainlm_decode.clip import train_clip

    start = time.perf_counter()
    _, history = train_clip(
        text,
        image,
        embed_dim=args.embed_dim,
        batch_size=args.batch_size,
        n_epochs=args.epochs,
        patience=None,
        random_state=0,
        device=args.device,
    )
    return {
        "total_s": time.perf_counter() - start,
        "epoch_s": history.epoch_time,
        "val_loss": history.val_loss[-1],
    }


def _plain_epoch(model, loss_fn, optimizer, text, image, generator, batch_size):
    import torch

    model.train()
    order = torch.randperm(text.shape[0], generator=generator)
    for index in torch.tensor_split(order, math.ceil(len(order) / batch_size)):
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(*model(text[index], image[index]))
        loss.backward()
        optimizer.step()
        model.clamp_logit_scale_()


def _run_plain(args: argparse.Namespace, text: np.ndarray, image: np.ndarray) -> dict:
    import torch

    from brainlm_decode.base import resolve_device
    from brainlm_decode.clip import ClipLoss, CLIPModel

    start = time.perf_counter()
    device = resolve_device(args.device)
    torch.manual_seed(0)
    n_val = text.shape[0] // 10
    order = np.random.default_rng(0).permutation(text.shape[0])
    tensors = [torch.from_numpy(a[order]).to(device) for a in (text, image)]
    train = [t[n_val:] for t in tensors]
    val = [t[:n_val] for t in tensors]
    model = CLIPModel(text.shape[1], image.shape[1], args.embed_dim).to(device)
    params = list(model.parameters())
    optimizer = torch.optim.AdamW(
        [
            {"params": [p for p in params if p.ndim >= 2], "weight_decay": 0.1},
            {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
        ],
        lr=5e-4,
    )
    loss_fn, generator = ClipLoss(), torch.Generator().manual_seed(0)
    epoch_s, best, best_state = [], math.inf, None
    for _ in range(args.epochs):
        tick = time.perf_counter()
        _plain_epoch(model, loss_fn, optimizer, *train, generator, args.batch_size)
        model.eval()
        with torch.no_grad():
            val_loss = 0.0
            for index in torch.tensor_split(
                torch.arange(n_val), math.ceil(n_val / args.batch_size)
            ):
                loss = loss_fn(*model(val[0][index], val[1][index]))
                val_loss += float(loss) * len(index) / n_val
        epoch_s.append(time.perf_counter() - tick)
        if val_loss < best:
            best, best_state = val_loss, copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
    return {
        "total_s": time.perf_counter() - start,
        "epoch_s": epoch_s,
        "val_loss": val_loss,
    }


def _child(args: argparse.Namespace) -> None:
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    text, image = _data(args)
    baseline = _rss_mib()
    runner = _run_ours if args.variant == "ours" else _run_plain
    result = runner(args, text, image)
    result["rss_peak_mib"] = _rss_mib()
    result["rss_baseline_mib"] = baseline
    if torch.cuda.is_available() and args.device != "cpu":
        result["gpu_peak_mib"] = torch.cuda.max_memory_allocated() / 2**20
        result["device_name"] = torch.cuda.get_device_name()
    else:
        result["device_name"] = f"CPU ({torch.get_num_threads()} threads)"
    print("RESULT " + json.dumps(result), flush=True)


def _launch(variant: str, argv: list[str]) -> dict[str, Any]:
    command = [sys.executable, __file__, *argv, "--variant", variant]
    output = subprocess.run(command, check=True, capture_output=True, text=True)
    line = next(x for x in output.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])


def _report(args: argparse.Namespace, results: dict[str, dict]) -> None:
    ours, plain = results["ours"], results["plain"]
    print(
        f"\nCLIP training benchmark: {args.n} pairs ({args.text_dim}-d text, "
        f"{args.image_dim}-d image), embed_dim {args.embed_dim}, batch "
        f"{args.batch_size}, {args.epochs} epochs, on {ours['device_name']}\n"
    )
    header = f"{'':30}{'train_clip':>14}{'plain torch':>14}{'ratio':>9}"
    print(header + "\n" + "-" * len(header))
    rows = [
        ("s/epoch (mean, all epochs)", np.mean, "epoch_s"),
        ("s/epoch (after the first)", lambda x: np.mean(x[1:] or x), "epoch_s"),
        ("total s (setup included)", float, "total_s"),
        ("peak RSS MiB", float, "rss_peak_mib"),
        ("RSS MiB before training", float, "rss_baseline_mib"),
        ("peak GPU MiB", float, "gpu_peak_mib"),
        ("final validation loss", float, "val_loss"),
    ]
    for label, reduce, key in rows:
        if key not in ours:
            continue
        a, b = reduce(ours[key]), reduce(plain[key])
        print(f"{label:30}{a:14.3f}{b:14.3f}{a / b:9.2f}")
    print("\nratio = train_clip / plain (1.00 = same cost)")


def main(argv: list[str] | None = None) -> None:
    """Run both variants in subprocesses and print them side by side."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--text-dim", type=int, default=384)
    parser.add_argument("--image-dim", type=int, default=512)
    parser.add_argument("--embed-dim", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="0: torch default")
    parser.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="run the variants alternately this many times; keep each one's fastest",
    )
    parser.add_argument("--variant", choices=["ours", "plain"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.variant:
        _child(args)
        return
    passthrough = list(argv if argv is not None else sys.argv[1:])
    runs: dict[str, list[dict]] = {"ours": [], "plain": []}
    for _ in range(args.repeats):
        for variant in runs:
            runs[variant].append(_launch(variant, passthrough))
    results = {
        variant: min(found, key=lambda r: r["total_s"])
        for variant, found in runs.items()
    }
    _report(args, results)


if __name__ == "__main__":
    main()
