"""Benchmark: the fMRI tokenizer's speed, reconstruction and codebook use.

Four measurements, printed as tables:

1. **Speed at the paper's sizes** (``small``: 12 layers, width 384; ``base``: 12
   layers, width 768) on 450 ROIs x 160 points (2,250 tokens per subject, full
   attention), VQ codebook of 8,192 codes: training throughput (subjects/s of
   forward + backward + AdamW steps of our :class:`TokenizerModel` on batches of
   ``--train-batch`` random subjects, after one warm-up step that also runs the
   k-means initialisation) and inference latency (``encode`` + quantisation of
   one subject, best of ``--repeats``).
2. **Reconstruction R^2 on held-out HCP subjects** (``../shared/data/hcp_rest``):
   the runs go through :class:`ROITimeSeriesPreprocessor` (TR 0.72 s -> 2 s,
   robust z-score, full length), are cut into windows of 160 points (stride
   ``--stride``); the first ``--n-train`` subjects train, the others test. A
   custom tokenizer size (4 layers, width 128, 4 heads, no alignment terms, lr
   1e-3, ``--epochs`` epochs) is trained with VQ (1,024 codes) and FSQ (levels
   8-5-5-5 = 1,000 codes). Baseline: k-means with 1,024 centroids on the raw
   32-point patches of the training windows (sklearn ``MiniBatchKMeans``), the
   same number of codes per patch without any context.
3. **Codebook use** of both quantizers: perplexity (``exp`` entropy of code use)
   and share of dead codes, on training and held-out windows.
4. **Our VQ layer vs a plain PyTorch nearest-neighbour VQ step** (``cdist``,
   ``argmin``, lookup) on the token count of one batch of 8 subjects (18,000 x
   384, 8,192 codes): lookup only (eval) and our full training step (lookup,
   EMA update, dead-code re-seeding, commitment loss).

Run::

    python benchmarks/bench_tokenizer.py              # CPU, about 10 minutes
    python benchmarks/bench_tokenizer.py --device cuda
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def _best(fn: Any, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _sync(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


def bench_speed(size: str, args: argparse.Namespace, device: Any) -> dict:
    """Training throughput and inference latency of one paper size."""
    import torch

    from brainlm_decode.tokenizer.model import SIZES, TokenizerModel
    from brainlm_decode.tokenizer.quantizers import VectorQuantizer
    from brainlm_decode.training.optim import make_optimizer

    torch.manual_seed(0)
    spec = SIZES[size]
    model = TokenizerModel(450, 5, VectorQuantizer(dim=spec["embed_dim"]), **spec).to(
        device
    )
    optimizer = make_optimizer(model, 1e-4, 0.05)
    x = torch.randn(args.train_batch, 160, 450, device=device)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        out = model(x)
        (out["reconstruction"] + out["quantizer"]).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        _sync(device)

    model.train()
    step()  # warm-up, k-means initialisation of the codebook
    start = time.perf_counter()
    for _ in range(args.train_steps):
        step()
    train_time = (time.perf_counter() - start) / args.train_steps
    model.eval()
    one = x[:1]

    def infer() -> None:
        with torch.no_grad():
            model.quantizer(model.encode(one))
        _sync(device)

    infer()
    return {
        "size": size,
        "params_M": model.n_parameters() / 1e6,
        "train_subjects_per_s": args.train_batch / train_time,
        "infer_s_per_subject": _best(infer, args.repeats),
    }


def _windows(runs: list[np.ndarray], stride: int) -> np.ndarray:
    return np.stack(
        [
            run[start : start + 160]
            for run in runs
            for start in range(0, run.shape[0] - 160 + 1, stride)
        ]
    ).astype(np.float32)


def hcp_windows(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray]:
    """Preprocessed HCP windows of 160 points: (train, test) by subject."""
    from scipy.io import loadmat

    from brainlm_decode import ROITimeSeriesPreprocessor

    files = sorted((SHARED / "hcp_rest").glob("*.mat"))
    if not files:
        raise SystemExit(f"no HCP runs in {SHARED / 'hcp_rest'}")
    runs = [np.asarray(loadmat(f)["tc"], dtype=np.float64).T for f in files]
    prep = ROITimeSeriesPreprocessor(t_r=0.72, n_timepoints=None, constant_rois="warn")
    train_runs = prep.fit_transform(runs[: args.n_train])
    test_runs = prep.transform(runs[args.n_train :])
    return _windows(train_runs, args.stride), _windows(test_runs, args.stride)


def _r2(x: np.ndarray, recon: np.ndarray) -> float:
    x = x.astype(np.float64)
    centred = x - x.mean(axis=1, keepdims=True)
    return float(1 - ((x - recon) ** 2).sum() / (centred**2).sum())


def bench_reconstruction(
    train: np.ndarray, test: np.ndarray, args: argparse.Namespace
) -> list[dict]:
    """Held-out R^2 and codebook use of VQ, FSQ and raw-patch k-means."""
    from brainlm_decode import FMRITokenizer
    from brainlm_decode.tokenizer.quantizers import codebook_usage

    rows = []
    for name, quantizer, params in [
        ("VQ 1024 (cosine, EMA)", "vq", {"codebook_size": 1024}),
        ("FSQ 8-5-5-5 (1000)", "fsq", {"levels": [8, 5, 5, 5]}),
    ]:
        tok = FMRITokenizer(
            size={"n_layers": 4, "embed_dim": 128, "n_heads": 4},
            quantizer=quantizer,
            quantizer_params=params,
            backbone=None,
            text_encoder=None,
            learning_rate=1e-3,
            min_learning_rate=1e-4,
            n_epochs=args.epochs,
            device=args.device,
            random_state=0,
        )
        start = time.perf_counter()
        tok.fit(train)
        fit_s = time.perf_counter() - start
        test_ids = tok.transform(test)
        perplexity, dead = codebook_usage(test_ids, tok.codebook_size_)
        rows.append(
            {
                "method": name,
                "train_R2": tok.score(train),
                "test_R2": tok.score(test),
                "perplexity_train": tok.codebook_perplexity_,
                "dead_train": tok.dead_code_fraction_,
                "perplexity_test": perplexity,
                "dead_test": dead,
                "fit_s": fit_s,
            }
        )
    rows.append(_kmeans_baseline(train, test))
    return rows


def _patches(x: np.ndarray) -> np.ndarray:
    n, t, r = x.shape
    return x.transpose(0, 2, 1).reshape(n * r * (t // 32), 32)


def _kmeans_baseline(train: np.ndarray, test: np.ndarray) -> dict:
    from sklearn.cluster import MiniBatchKMeans

    from brainlm_decode.tokenizer.quantizers import codebook_usage

    start = time.perf_counter()
    kmeans = MiniBatchKMeans(1024, batch_size=4096, n_init=1, random_state=0)
    kmeans.fit(_patches(train))
    fit_s = time.perf_counter() - start

    def recon(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ids = kmeans.predict(_patches(x))
        n, t, r = x.shape
        patches = kmeans.cluster_centers_[ids].reshape(n, r, t)
        return patches.transpose(0, 2, 1), ids

    train_recon, train_ids = recon(train)
    test_recon, test_ids = recon(test)
    p_train, d_train = codebook_usage(train_ids, 1024)
    p_test, d_test = codebook_usage(test_ids, 1024)
    return {
        "method": "k-means 1024 on raw patches",
        "train_R2": _r2(train, train_recon),
        "test_R2": _r2(test, test_recon),
        "perplexity_train": p_train,
        "dead_train": d_train,
        "perplexity_test": p_test,
        "dead_test": d_test,
        "fit_s": fit_s,
    }


def bench_vq_layer(args: argparse.Namespace, device: Any) -> list[dict]:
    """Our VectorQuantizer against a plain PyTorch nearest-neighbour step."""
    import torch
    import torch.nn.functional as F

    from brainlm_decode.tokenizer.quantizers import VectorQuantizer

    torch.manual_seed(0)
    x = torch.randn(8 * 450 * 5, 384, device=device)
    vq = VectorQuantizer(dim=384).to(device).train()
    vq(x)  # k-means initialisation
    codebook = vq.embed.clone()

    def plain() -> None:
        xn = F.normalize(x, dim=-1)
        ids = torch.cdist(xn, codebook).argmin(dim=1)
        codebook[ids]
        _sync(device)

    def ours_eval() -> None:
        with torch.no_grad():
            vq.eval()(x)
        _sync(device)

    def ours_train() -> None:
        with torch.no_grad():
            vq.train()(x)
        _sync(device)

    xn = F.normalize(x, dim=-1)
    same = torch.equal(torch.cdist(xn, codebook).argmin(dim=1), vq.eval()(x)[1])
    return [
        {"variant": "plain PyTorch cdist + argmin + lookup", "s": _best(plain, 3)},
        {"variant": "ours, eval (chunked cosine argmax)", "s": _best(ours_eval, 3)},
        {"variant": "ours, train (+ EMA, dead codes)", "s": _best(ours_train, 3)},
        {"variant": f"same indices as plain: {bool(same)}", "s": float("nan")},
    ]


def _table(rows: list[dict], title: str) -> None:
    print(f"\n{title}")
    keys = list(rows[0])
    print(" | ".join(keys))
    for row in rows:
        cells = [f"{v:.3f}" if isinstance(v, float) else str(v) for v in row.values()]
        print(" | ".join(cells))


def main() -> None:
    """Parse arguments, run the four measurements, print the tables."""
    import torch

    from brainlm_decode.base import resolve_device

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--train-batch", type=int, default=2)
    parser.add_argument("--train-steps", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--sizes", default="small,base")
    parser.add_argument("--n-train", type=int, default=5)
    parser.add_argument("--stride", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--skip-speed", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    print(
        f"torch {torch.__version__}, {device}, {args.threads} threads, "
        f"{platform.processor() or platform.machine()}"
    )
    if not args.skip_speed:
        rows = [bench_speed(s, args, device) for s in args.sizes.split(",")]
        _table(rows, "1. speed, 450 ROIs x 160 points, VQ 8192")
    train, test = hcp_windows(args)
    print(f"\nHCP windows: train {train.shape}, test {test.shape}")
    rows = bench_reconstruction(train, test, args)
    _table(rows, "2-3. held-out HCP reconstruction and codebook use")
    _table(bench_vq_layer(args, device), "4. VQ layer, 18000 x 384, 8192 codes")


if __name__ == "__main__":
    main()
