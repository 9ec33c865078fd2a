"""Speed of the descriptor families next to the reference libraries, side by side.

Run: ``python benchmarks/bench_descriptors.py``. Prints, in one table, the best
time (of a few runs) of

- our weighted global efficiency (Dijkstra through :mod:`scipy.sparse.csgraph`)
  vs ``bct.efficiency_wei``, and our vectorised weighted clustering vs
  ``bct.clustering_coef_wu``, on 450-node graphs at 10 % density (the
  fMRI-LM atlas size), checking that the values agree;
- our :class:`FunctionalGradients` (fit + transform: reference from the group
  mean, every subject aligned) vs plain brainspace usage doing the same work
  (``np.corrcoef`` per subject, ``GradientMaps(..., alignment="procrustes")``
  on the group mean, then on the list of subjects with that reference), on the
  shared HCP resting-state time series (``../shared/data/hcp_rest/*.mat``, 94
  ROIs x 1200 TRs) or, when they are missing, on a synthetic 450-ROI cohort.

Ratios are reference time / our time (above 1: we are faster).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPEATS = 5
HCP_DIR = (
    Path(
        os.environ.get(
            "BRAINLM_DECODE_SHARED_DATA",
            Path(__file__).resolve().parents[1].parent / "shared" / "data",
        )
    )
    / "hcp_rest"
)


def best_time(func: Callable[[], object], repeats: int = REPEATS) -> float:
    """Best wall time of ``func()`` over ``repeats`` runs, after one warm-up.

    The minimum (as :mod:`timeit` recommends) is the least sensitive to other
    processes sharing the machine.
    """
    func()
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        runs.append(time.perf_counter() - start)
    return min(runs)


def load_timeseries() -> tuple[list[np.ndarray], str]:
    """HCP time series (n_timepoints, n_rois) when present, else a synthetic cohort."""
    files = sorted(HCP_DIR.glob("*.mat")) if HCP_DIR.is_dir() else []
    if files:
        from scipy.io import loadmat

        series = [np.asarray(loadmat(f)["tc"], dtype=np.float64).T for f in files]
        return series, f"HCP rest, {len(series)} subjects x {series[0].shape[::-1]}"
    from brainlm_decode.datasets import make_fmri_cohort

    cohort = make_fmri_cohort(n_subjects=6, n_rois=450, random_state=0)
    return cohort.timeseries, "synthetic, 6 subjects x (450 ROIs, 160 TRs)"


def bench_graph(rows: list[tuple[str, float, float]]) -> None:
    """Global efficiency and clustering, ours vs bctpy, on 450-node graphs."""
    try:
        import bct
    except ImportError:
        print("bctpy not installed: graph benchmark skipped")
        return
    from brainlm_decode.datasets import make_fmri_cohort
    from brainlm_decode.descriptors.connectivity import connectivity_matrix
    from brainlm_decode.descriptors.graph import (
        clustering_coefficient,
        global_efficiency,
        threshold_positive_density,
    )

    cohort = make_fmri_cohort(n_subjects=2, n_rois=450, random_state=0)
    W = threshold_positive_density(connectivity_matrix(cohort.timeseries[0]), 0.1)
    assert abs(global_efficiency(W) - bct.efficiency_wei(W)) < 1e-10
    assert np.abs(clustering_coefficient(W) - bct.clustering_coef_wu(W)).max() < 1e-10
    rows.append(
        (
            "global efficiency (450 nodes, 10%)",
            best_time(lambda: global_efficiency(W)),
            best_time(lambda: bct.efficiency_wei(W), repeats=2),
        )
    )
    rows.append(
        (
            "clustering coefficient (450 nodes)",
            best_time(lambda: clustering_coefficient(W)),
            best_time(lambda: bct.clustering_coef_wu(W)),
        )
    )


def _plain_brainspace(X: list[np.ndarray]) -> list[np.ndarray]:
    """Gradients of every subject aligned to the group-mean gradients, by hand."""
    from brainspace.gradient import GradientMaps

    fcs = [np.corrcoef(ts.T) for ts in X]
    z = np.mean([np.arctanh(np.clip(c, -1 + 1e-7, 1 - 1e-7)) for c in fcs], axis=0)
    group = np.tanh(z)
    np.fill_diagonal(group, 1.0)
    kwargs = {"approach": "dm", "kernel": "normalized_angle", "random_state": 0}
    reference = GradientMaps(n_components=10, **kwargs).fit(group).gradients_
    maps = GradientMaps(n_components=10, alignment="procrustes", **kwargs)
    return maps.fit(fcs, reference=reference, n_iter=1).aligned_


def bench_gradients(rows: list[tuple[str, float, float]]) -> str | None:
    """FunctionalGradients fit + transform vs the same steps with brainspace."""
    try:
        import brainspace  # noqa: F401
    except ImportError:
        print("brainspace not installed: gradients benchmark skipped")
        return None
    from brainlm_decode.descriptors.gradients import FunctionalGradients

    X, source = load_timeseries()
    ours = FunctionalGradients(random_state=0)
    theirs = _plain_brainspace(X)
    mine = ours.fit(X).subject_gradients(X)
    gap = max(np.abs(a - b).max() for a, b in zip(mine, theirs, strict=True))
    rows.append(
        (
            f"gradients, {len(X)} subjects",
            best_time(lambda: ours.fit_transform(X), repeats=3),
            best_time(lambda: _plain_brainspace(X), repeats=3),
        )
    )
    return f"{source}; max |ours - brainspace| aligned gradient = {gap:.1e}"


def main() -> None:
    rows: list[tuple[str, float, float]] = []
    bench_graph(rows)
    note = bench_gradients(rows)
    print(f"{'task':<38}{'ours (s)':>11}{'reference (s)':>15}{'ratio':>8}")
    for name, ours, reference in rows:
        print(f"{name:<38}{ours:>11.4f}{reference:>15.4f}{reference / ours:>7.1f}x")
    print("reference: bctpy for graph metrics, plain brainspace for gradients")
    if note:
        print(f"gradient data: {note}")


if __name__ == "__main__":
    main()
