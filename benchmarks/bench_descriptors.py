"""Speed of the descriptor families next to the reference libraries, side by side.

Run: ``python benchmarks/bench_descriptors.py`` (single thread: the BLAS/OpenMP
thread counts are set to 1 before numpy is imported).

Table 1, one 450-ROI x 160-point subject (synthetic,
:func:`brainlm_decode.datasets.make_fmri_cohort`), after ``fit`` on 16 training
subjects: per family and for all four together, the best time (of a few runs) of
our ``transform`` vs the same quantities composed from the reference libraries,
the ratio (reference / ours, above 1: we are faster) and the largest absolute
difference between the two sets of raw descriptor values:

- connectivity: nilearn ``ConnectivityMeasure(kind="correlation")`` with the
  empirical covariance (nilearn's default Ledoit-Wolf shrinkage would give
  other values), Fisher z,
  network-pair means with a loop over the Yeo-7 pairs;
- gradients: brainspace ``GradientMaps(approach="dm",
  kernel="normalized_angle", alignment="procrustes")`` with the fitted reference
  gradients, then the same summaries;
- graph: bctpy ``threshold_proportional``, ``strengths_und``,
  ``community_louvain`` (same seed), ``efficiency_wei``, ``clustering_coef_wu``;
- ICA: the fitted group ``FastICA`` maps, per-subject regression with
  scikit-learn ``LinearRegression`` (dual regression stage 1), then per-component
  metrics with scipy ``welch``, pandas rolling windows and ``np.corrcoef``;
- all four: the four compositions one after the other vs
  ``FMRIDescriptorTransformer.transform`` (which also z-scores).

Table 2, parts: our Louvain vs bctpy's on brainspace's HCP group connectivity
(Schaefer-400, 10 % density; modularity over 10 seeds each), and the gradients of
the shared HCP resting-state runs (``../shared/data/hcp_rest``) vs brainspace.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"

import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402
from itertools import combinations  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

REPEATS = 5
SHARED = Path(
    os.environ.get(
        "BRAINLM_DECODE_SHARED_DATA",
        Path(__file__).resolve().parents[1].parent / "shared" / "data",
    )
)
YEO7 = ("Vis", "SomMot", "DorsAttn", "SalVentAttn", "Limbic", "Cont", "Default")


def best_time(func: Callable[[], object], repeats: int = REPEATS) -> float:
    """Best wall time of ``func()`` over ``repeats`` runs, after one warm-up."""
    func()
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        runs.append(time.perf_counter() - start)
    return min(runs)


# ----------------------------------------------------------- reference compositions


def ref_connectivity(ts: np.ndarray, networks: np.ndarray) -> dict[str, float]:
    """nilearn correlation, Fisher z, mean per Yeo-7 pair."""
    from nilearn.connectome import ConnectivityMeasure
    from sklearn.covariance import EmpiricalCovariance

    measure = ConnectivityMeasure(
        cov_estimator=EmpiricalCovariance(),  # nilearn's default shrinks (Ledoit-Wolf)
        kind="correlation",
        standardize="zscore_sample",
    )
    r = measure.fit_transform([ts])[0]
    z = np.arctanh(np.clip(r, -(1 - 1e-7), 1 - 1e-7))
    out = {}
    for i, a in enumerate(YEO7):
        for b in YEO7[i:]:
            ia, ib = np.flatnonzero(networks == a), np.flatnonzero(networks == b)
            if a == b:
                values = [z[p, q] for p, q in combinations(ia, 2)]
            else:
                values = z[np.ix_(ia, ib)].ravel()
            out[f"fc__{a}__{b}"] = float(np.mean(values)) if len(values) else np.nan
    return out


def ref_gradients(
    ts: np.ndarray, networks: np.ndarray, reference: np.ndarray
) -> dict[str, float]:
    """brainspace GradientMaps aligned to the fitted reference, then summaries."""
    from brainspace.gradient import GradientMaps

    maps = GradientMaps(
        n_components=reference.shape[1],
        approach="dm",
        kernel="normalized_angle",
        alignment="procrustes",
        random_state=0,
    )
    grads = maps.fit([np.corrcoef(ts.T)], reference=reference, n_iter=1).aligned_[0]
    out = {}
    for k in range(3):
        out[f"gradients__g{k + 1}_range"] = float(np.ptp(grads[:, k]))
        out[f"gradients__g{k + 1}_variance"] = float(np.var(grads[:, k]))
    for k in range(2):
        for name in YEO7:
            out[f"gradients__g{k + 1}__{name}"] = float(
                grads[networks == name, k].mean()
            )
    return out


def ref_graph(ts: np.ndarray, networks: np.ndarray, seed: int) -> dict[str, float]:
    """bctpy: proportional threshold, strengths, Louvain, efficiency, clustering."""
    import bct

    W = bct.threshold_proportional(np.clip(np.corrcoef(ts.T), 0, None), 0.1)
    strength = bct.strengths_und(W)
    out = {f"graph__strength__{n}": float(strength[networks == n].mean()) for n in YEO7}
    out["graph__modularity"] = float(bct.community_louvain(W, gamma=1, seed=seed)[1])
    out["graph__global_efficiency"] = float(bct.efficiency_wei(W))
    out["graph__clustering"] = float(bct.clustering_coef_wu(W).mean())
    return out


def ref_ica(ts: np.ndarray, ica) -> dict[str, float]:
    """Fitted FastICA maps, LinearRegression time courses, per-component metrics."""
    from scipy.signal import welch
    from sklearn.linear_model import LinearRegression

    data = (ts - ts.mean(0)) / ts.std(0)
    tcs = LinearRegression(fit_intercept=False).fit(ica.components_.T, data.T).coef_
    fs, nyq = 1.0 / ica.t_r, 0.5 / ica.t_r
    metrics: dict[str, list[float]] = {m: [] for m in ("amplitude", "variability",
        "spectral_ratio", "autocorrelation", "transient_frequency", "falff")}  # fmt: skip
    for x in tcs.T:
        freqs, psd = welch(x, fs=fs, nperseg=min(len(x), 64))
        df = freqs[1] - freqs[0]

        def power(band, freqs=freqs, psd=psd, df=df):
            lo, hi = band
            upper = freqs <= hi if hi >= nyq else freqs < hi
            return psd[(freqs >= lo) & upper].sum() * df

        metrics["amplitude"].append(x.std())
        rolling = pd.Series(x).rolling(ica.window).std(ddof=0).dropna()
        metrics["variability"].append(rolling.std(ddof=0))
        metrics["spectral_ratio"].append(
            power(ica.bands_["slow"]) / power(ica.bands_["fast"])
        )
        metrics["autocorrelation"].append(np.corrcoef(x[:-1], x[1:])[0, 1])
        z = (x - x.mean()) / x.std()
        metrics["transient_frequency"].append(np.mean(np.abs(z) > 2.5))
        metrics["falff"].append(power(ica.bands_["falff"]) / power((0.0, nyq)))
    from brainlm_decode.descriptors.ica import ICA_NETWORKS

    labels = ica.component_networks_
    out, courses = {}, {}
    for net in ICA_NETWORKS:
        slug = net.replace(" ", "_")
        members = labels == net
        for metric, values in metrics.items():
            values = np.asarray(values)[members]
            out[f"ica__{slug}__{metric}"] = values.mean() if values.size else np.nan
        if members.any():
            courses[net] = tcs[:, members].mean(axis=1)
    fnc = []
    for a, b in combinations(ICA_NETWORKS, 2):
        value = np.nan
        if a in courses and b in courses:
            r = np.corrcoef(courses[a], courses[b])[0, 1]
            value = np.arctanh(np.clip(r, -1 + 1e-7, 1 - 1e-7))
        out[f"ica__fnc__{a.replace(' ', '_')}__{b.replace(' ', '_')}"] = value
        fnc.append(value)
    for metric, values in metrics.items():
        out[f"ica__global__mean_{metric}"] = float(np.nanmean(values))
    out["ica__global__mean_fnc"] = float(np.nanmean(fnc))
    out["ica__global__mean_abs_fnc"] = float(np.nanmean(np.abs(fnc)))
    return out


# -------------------------------------------------------------------------- tables


def max_diff(ours: pd.DataFrame, reference: dict[str, float]) -> float:
    """Largest |ours - reference| over the features both define."""
    ref = pd.Series(reference, dtype=float)
    common = [c for c in ours.columns if c in ref.index]
    gap = (ours.iloc[0][common].astype(float) - ref[common]).abs()
    return float(gap.max())


def family_table() -> list[tuple[str, float, float, float]]:
    """Our families vs the reference compositions on one 450 x 160 subject."""
    from brainlm_decode import FMRIDescriptorTransformer
    from brainlm_decode.datasets import make_fmri_cohort

    cohort = make_fmri_cohort(n_subjects=17, n_rois=450, random_state=0)
    networks = np.asarray(cohort.networks)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # FastICA convergence on synthetic data
        model = FMRIDescriptorTransformer(
            networks=cohort.networks, t_r=cohort.t_r, random_state=0
        ).fit(cohort.timeseries[:16])
    subject = cohort.timeseries[16]
    fc, grad, graph, ica = model.descriptors_
    seed = 0  # GraphMetrics(random_state=0) seeds Louvain with 0
    refs = {
        "connectivity": (fc, lambda: ref_connectivity(subject, networks)),
        "gradients": (
            grad,
            lambda: ref_gradients(subject, networks, grad.reference_gradients_),
        ),
        "graph": (graph, lambda: ref_graph(subject, networks, seed)),
        "ica": (ica, lambda: ref_ica(subject, ica)),
    }
    rows, total_ref, reference_values = [], 0.0, {}
    for name, (family, reference) in refs.items():
        ours = family.transform([subject])
        values = reference()
        reference_values.update(values)
        slow = name == "graph"  # bctpy's efficiency_wei takes seconds
        ref_time = best_time(reference, repeats=1 if slow else REPEATS)
        total_ref += ref_time
        rows.append(
            (
                name,
                best_time(lambda family=family: family.transform([subject])),
                ref_time,
                max_diff(ours, values),
            )
        )
    raw = model.transform_raw([subject])
    rows.append(
        (
            "all four (transform, z-scored)",
            best_time(lambda: model.transform([subject])),
            total_ref,
            max_diff(raw, reference_values),
        )
    )
    return rows


def louvain_rows() -> list[str]:
    """Our Louvain vs bctpy's on the HCP group connectivity (Schaefer-400)."""
    import bct
    from brainspace.datasets import load_group_fc

    from brainlm_decode.descriptors.community import louvain_communities
    from brainlm_decode.descriptors.graph import threshold_positive_density

    W = threshold_positive_density(load_group_fc("schaefer", scale=400), 0.1)
    seeds = range(10)
    ours = [louvain_communities(W, seed=s)[1] for s in seeds]
    theirs = [bct.community_louvain(W, seed=s)[1] for s in seeds]
    t_ours = best_time(lambda: louvain_communities(W, seed=0))
    t_bct = best_time(lambda: bct.community_louvain(W, seed=0))
    return [
        f"Louvain, HCP group FC (400 nodes, 10%): ours {t_ours:.4f} s, bctpy "
        f"{t_bct:.4f} s ({t_bct / t_ours:.1f}x)",
        f"  Q over 10 seeds: ours {min(ours):.4f}-{max(ours):.4f} (mean "
        f"{np.mean(ours):.4f}), bctpy {min(theirs):.4f}-{max(theirs):.4f} (mean "
        f"{np.mean(theirs):.4f})",
    ]


def hcp_gradient_rows() -> list[str]:
    """FunctionalGradients vs brainspace on the shared HCP runs (when present)."""
    files = sorted((SHARED / "hcp_rest").glob("*.mat"))
    if not files:
        return ["HCP runs not found: gradients comparison skipped"]
    from brainspace.gradient import GradientMaps
    from scipy.io import loadmat

    from brainlm_decode.descriptors.gradients import FunctionalGradients

    X = [np.asarray(loadmat(f)["tc"], dtype=np.float64).T for f in files]

    def plain_brainspace() -> list[np.ndarray]:
        fcs = [np.corrcoef(ts.T) for ts in X]
        z = np.mean([np.arctanh(np.clip(c, -1 + 1e-7, 1 - 1e-7)) for c in fcs], 0)
        group = np.tanh(z)
        np.fill_diagonal(group, 1.0)
        kw = {"approach": "dm", "kernel": "normalized_angle", "random_state": 0}
        reference = GradientMaps(n_components=10, **kw).fit(group).gradients_
        maps = GradientMaps(n_components=10, alignment="procrustes", **kw)
        return maps.fit(fcs, reference=reference, n_iter=1).aligned_

    ours = FunctionalGradients(random_state=0)
    mine = ours.fit(X).subject_gradients(X)
    gap = max(
        np.abs(a - b).max() for a, b in zip(mine, plain_brainspace(), strict=True)
    )
    t_ours = best_time(lambda: ours.fit_transform(X), repeats=3)
    t_ref = best_time(plain_brainspace, repeats=3)
    return [
        f"gradients, HCP rest {len(X)} x {X[0].shape[::-1]} (fit + transform): "
        f"ours {t_ours:.4f} s, brainspace {t_ref:.4f} s ({t_ref / t_ours:.1f}x), "
        f"max |diff| {gap:.1e}"
    ]


def main() -> None:
    """Print both tables."""
    print("one subject, 450 ROIs x 160 time points, single thread, after fit")
    print(
        f"{'family':<32}{'ours (s)':>10}{'reference (s)':>15}{'ratio':>9}{'max |diff|':>12}"
    )
    for name, ours, reference, gap in family_table():
        print(
            f"{name:<32}{ours:>10.4f}{reference:>15.4f}{reference / ours:>8.1f}x"
            f"{gap:>12.1e}"
        )
    print(
        "reference: nilearn (FC), brainspace (gradients), bctpy (graph), "
        "FastICA maps + LinearRegression + scipy/pandas (ICA); max |diff| over raw "
        "descriptor values"
    )
    print()
    for line in louvain_rows() + hcp_gradient_rows():
        print(line)


if __name__ == "__main__":
    main()
