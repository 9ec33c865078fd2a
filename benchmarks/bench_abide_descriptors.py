"""ABIDE PITT: phenotypes from descriptors vs nilearn's tangent-space baseline.

Real data chain: ROI time series (56 subjects, 116 AAL ROIs, TR 1.5 s) ->
:class:`~brainlm_decode.ROITimeSeriesPreprocessor` (TR 2 s, 160 points, robust
z-score) -> descriptors -> normative z-scores (training folds only) -> logistic
regression, against ``ConnectivityMeasure(kind="tangent")`` + logistic regression on
the same stratified folds. Targets: diagnosis (autism vs control) and sex.

The network-level families (connectivity pairs, per-network values, ICA domains)
need a Yeo-7 network per ROI; no offline AAL-116 volume maps the ABIDE ROIs to
Yeo-7 here, so this benchmark uses the families that need no network labels:
graph metrics (modularity, efficiency, clustering) and gradient summaries.

Run: ``python benchmarks/bench_abide_descriptors.py`` (skips without ../shared/data).
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "abide_pitt"


class NetworkFreeDescriptors(TransformerMixin, BaseEstimator):
    """Graph and gradient descriptors z-scored on the training subjects."""

    def __init__(self, random_state: int = 0):
        self.random_state = random_state

    def fit(self, X, y=None):
        from brainlm_decode.descriptors import (
            FunctionalGradients,
            GraphMetrics,
            NormativeModel,
        )

        self.families_ = [
            GraphMetrics(random_state=self.random_state).fit(X),
            FunctionalGradients(random_state=self.random_state).fit(X),
        ]
        self.norms_ = NormativeModel().fit(self._raw(X))
        return self

    def _raw(self, X):
        return pd.concat([family.transform(X) for family in self.families_], axis=1)

    def transform(self, X):
        return self.norms_.transform(self._raw(X)).fillna(0.0).to_numpy()


def load():
    """Time series and phenotypes, in the phenotype table's order."""
    from scipy.io import loadmat

    pheno = pd.read_csv(DATA / "phenotypes.csv")
    id_col = next(c for c in pheno.columns if "SUB_ID" in c.upper())
    rows, series = [], []
    for _, row in pheno.iterrows():
        matches = sorted((DATA / "roi_timeseries_aal116").glob(f"*{row[id_col]}*.mat"))
        if matches:
            series.append(
                np.asarray(loadmat(matches[0])["ROISignals"], dtype=np.float64)
            )
            rows.append(row)
    return series, pd.DataFrame(rows).reset_index(drop=True)


def main() -> None:
    """Cross-validate both pipelines on both targets and print the table."""
    if not DATA.is_dir():
        print(f"SKIP: {DATA} is missing")
        return
    from nilearn.connectome import ConnectivityMeasure
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_validate
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from brainlm_decode import ROITimeSeriesPreprocessor

    series, pheno = load()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant ROIs in some ABIDE runs
        data = ROITimeSeriesPreprocessor(t_r=1.5, constant_rois="warn").fit_transform(
            series
        )
    print(f"{len(series)} subjects -> preprocessed {data.shape}")
    targets = {
        "diagnosis (ASD vs control)": (pheno["DX_GROUP"].to_numpy() == 1).astype(int),
        "sex (female vs male)": (pheno["SEX"].to_numpy() == 2).astype(int),
    }
    pipelines = {
        "descriptors (graph+gradients)": make_pipeline(
            NetworkFreeDescriptors(),
            StandardScaler(),
            LogisticRegression(C=0.1, max_iter=2000),
        ),
        "tangent connectivity": make_pipeline(
            ConnectivityMeasure(kind="tangent", vectorize=True, discard_diagonal=True),
            StandardScaler(),
            LogisticRegression(C=0.1, max_iter=2000),
        ),
    }
    print(f"{'target':<28}{'pipeline':<32}{'bal. acc.':>10}{'ROC AUC':>9}{'s':>7}")
    for target, y in targets.items():
        folds = StratifiedKFold(
            n_splits=min(5, int(np.bincount(y).min())), shuffle=True, random_state=0
        )
        for name, pipe in pipelines.items():
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                scores = cross_validate(
                    pipe,
                    list(data),
                    y,
                    cv=folds,
                    scoring=("balanced_accuracy", "roc_auc"),
                )
            print(
                f"{target:<28}{name:<32}{scores['test_balanced_accuracy'].mean():>10.3f}"
                f"{scores['test_roc_auc'].mean():>9.3f}{time.perf_counter() - start:>7.1f}"
            )
    print("chance: balanced accuracy 0.5, ROC AUC 0.5")


if __name__ == "__main__":
    main()
