"""Corpus embedding: brainlm_decode image spaces vs NiMARE MKDAKernel + nilearn masker.

Measures, in one run, printed side by side:

(a) the same 512-map probabilistic atlas, the same sample of NeuroQuery studies
    (default 200): NiMARE ``MKDAKernel(r=10, value=1)`` images projected by nilearn
    ``NiftiMapsMasker`` (the reference, one 4D image, one masker call) against
    ``MNIParcelSpace(512, kind="maps").transform_coordinates`` (sparse MKDA maps
    and a factored atlas); speed-up and max abs difference;
(b) the whole NeuroQuery corpus (13,459 studies, 469,260 peaks) embedded by the
    same space: wall time and peak memory (``resource.getrusage`` max RSS of the
    process, and the tracemalloc peak of the embedding call).

DiFuMo-512 cannot be downloaded here; the 512 maps are our offline stand-in:
512 seeded k-means grey-matter parcels, each smoothed by a 6 mm Gaussian
(overlapping probabilistic maps, sparse like DiFuMo's).

Run from the repository root::

    python benchmarks/bench_corpus_embedding.py [--n-sample 200] [--n-jobs 2]

Needs ``../shared/data`` (NeuroQuery coordinates); exits 0 with a message when it
is missing.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import tracemalloc
import warnings
from pathlib import Path

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _find_coordinates() -> Path | None:
    folder = SHARED_DATA / "neuroquery"
    if not folder.is_dir():
        return None
    for name in ("coordinates.tsv.gz", "data-neuroquery_version-1_coordinates.tsv.gz"):
        if (folder / name).exists():
            return folder / name
    found = sorted(folder.glob("*coordinates.tsv.gz"))
    return found[0] if found else None


def _max_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux: KB units)."""
    scale = 1 / 1024 if sys.platform != "darwin" else 1 / 1024**2
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def _reference(coords, ids, space):
    """NiMARE MKDAKernel images + nilearn NiftiMapsMasker on one 4D image."""
    from nilearn.image import concat_imgs
    from nilearn.maskers import NiftiMapsMasker, NiftiMasker
    from nimare.meta.kernel import MKDAKernel

    masker = NiftiMasker(space.mask_img_).fit()
    sample = coords[coords["id"].isin(ids)]
    # warm-up: NiMARE's numba kernels are compiled (and cached) on the first call
    MKDAKernel(r=10, value=1).transform(sample.head(5), masker=masker)
    start = time.perf_counter()
    imgs = MKDAKernel(r=10, value=1).transform(sample, masker=masker)
    t_kernel = time.perf_counter() - start
    img4d = concat_imgs(imgs)
    maps_masker = NiftiMapsMasker(space.maps_img_, mask_img=space.mask_img_)
    values = maps_masker.fit_transform(img4d)
    total = time.perf_counter() - start
    return values, total, t_kernel


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table; 0 on success or skip."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-sample", type=int, default=200)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--skip-reference", action="store_true")
    args = parser.parse_args(argv)

    path = _find_coordinates()
    if path is None:
        print(f"SKIP: NeuroQuery coordinates not found under {SHARED_DATA}.")
        return 0

    import numpy as np
    import pandas as pd

    from brainlm_decode.imaging import MNIParcelSpace

    warnings.simplefilter("ignore")  # out-of-mask peaks: reported by NiMARE too
    t0 = time.perf_counter()
    coords = pd.read_csv(path, sep="\t")
    t_read = time.perf_counter() - t0
    n_studies = coords["id"].nunique()

    t0 = time.perf_counter()
    space = MNIParcelSpace(
        512, kind="maps", n_jobs=args.n_jobs, batch_size=args.batch_size
    ).fit()
    t_fit = time.perf_counter() - t0

    # (b) whole corpus
    tracemalloc.start()
    t0 = time.perf_counter()
    embeddings = space.transform_coordinates(coords)
    t_corpus = time.perf_counter() - t0
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_corpus = _max_rss_mb()

    rows = [
        ("NeuroQuery studies / peaks", f"{n_studies:,} / {len(coords):,}", ""),
        ("read coordinates table", f"{t_read:.1f} s", ""),
        ("atlas fit (512 maps, factor)", f"{t_fit:.1f} s", ""),
        (
            "(b) embed whole corpus",
            f"{t_corpus:.1f} s",
            f"n_jobs={args.n_jobs}, output {embeddings.shape}",
        ),
        ("(b) peak RSS (process)", f"{rss_corpus:,.0f} MB", "after fit + corpus"),
        ("(b) tracemalloc peak (embedding)", f"{traced_peak / 1e6:,.0f} MB", ""),
    ]

    if not args.skip_reference:
        rng = np.random.default_rng(0)
        all_ids = np.sort(coords["id"].unique())
        ids = np.sort(rng.choice(all_ids, size=args.n_sample, replace=False))
        sample = coords[coords["id"].isin(ids)]
        timings = []
        for _ in range(3):  # median of 3 (the reference runs once: it is slow)
            t0 = time.perf_counter()
            ours = space.transform_coordinates(sample, ids=ids)
            timings.append(time.perf_counter() - t0)
        t_ours = float(np.median(timings))
        ref, t_ref, t_kernel = _reference(coords, ids, space)
        diff = float(np.abs(ref - ours).max())
        per_study_corpus = t_corpus / n_studies
        rows += [
            (
                f"(a) NiMARE MKDAKernel + NiftiMapsMasker, {args.n_sample} studies",
                f"{t_ref:.2f} s",
                f"kernel+images {t_kernel:.2f} s",
            ),
            (
                f"(a) brainlm_decode, same {args.n_sample} studies",
                f"{t_ours:.3f} s",
                "median of 3",
            ),
            ("(a) speed-up (same studies)", f"{t_ref / t_ours:.0f}x", ""),
            (
                "(a) speed-up per study vs corpus run",
                f"{(t_ref / args.n_sample) / per_study_corpus:.0f}x",
                f"{1e3 * per_study_corpus:.2f} ms/study",
            ),
            (
                "(a) speed-up incl. our atlas fit",
                f"{t_ref / (t_ours + t_fit):.1f}x",
                "one-off cost",
            ),
            (
                "(a) max abs difference",
                f"{diff:.2e}",
                f"max |value| {np.abs(ref).max():.3f}",
            ),
            ("peak RSS (whole run)", f"{_max_rss_mb():,.0f} MB", "includes reference"),
        ]

    width = max(len(r[0]) for r in rows) + 2
    print("\nCorpus embedding benchmark (MKDA r=10 mm, 512 probabilistic maps)")
    print("-" * (width + 40))
    for name, value, note in rows:
        print(f"{name:<{width}}{value:>14}  {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
