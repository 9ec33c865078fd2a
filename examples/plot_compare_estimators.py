"""
Compare estimators honestly: same folds, CIs, permutation p-values
==================================================================

One train/test split of a small cohort says little: with 40 subjects, the
AUC of the same model moves by 0.1 or more from one split to the next.
:func:`~brainlm_decode.compare_estimators` fits every estimator on the **same**
repeated stratified folds, and reports per-fold scores (mean +- sd), a
stratified-bootstrap confidence interval, a permutation p-value and the paired
difference to a reference estimator with its own interval.

Here the ready-made baselines of :mod:`brainlm_decode.evaluation` (tangent and
correlation connectivity + logistic regression, descriptors + logistic
regression) on a synthetic cohort with a planted connectivity difference. An
:class:`~brainlm_decode.FMRILMClassifier` goes in the same dict the same way
(see ``benchmarks/bench_lm.py`` for ABIDE).
"""

# %%
# A cohort with a planted connectivity difference
# -----------------------------------------------
import warnings

from brainlm_decode import ROITimeSeriesPreprocessor, compare_estimators
from brainlm_decode.datasets import make_fmri_cohort
from brainlm_decode.evaluation import (
    correlation_baseline,
    descriptor_baseline,
    tangent_baseline,
)

warnings.filterwarnings("ignore", message=".*did not converge.*")  # FastICA

cohort = make_fmri_cohort(
    n_subjects=40, n_rois=30, n_timepoints=120, effect_size=0.25, random_state=0
)
X = list(
    ROITimeSeriesPreprocessor(t_r=cohort.t_r, n_timepoints=120).fit_transform(
        cohort.timeseries
    )
)
y = cohort.phenotypes["diagnosis"].to_numpy()
print(f"{len(X)} subjects, {X[0].shape}, classes {sorted(set(y))}")

# %%
# Three baselines, 2 x 5-fold, on identical folds
# -----------------------------------------------
# ``permutation="fixed"`` permutes the labels against the fixed out-of-fold
# predictions (cheap); ``"refit"`` refits on permuted labels (the stricter
# scikit-learn test, ``n_permutations x n_splits`` fits).
result = compare_estimators(
    {
        "tangent + LR": tangent_baseline(),
        "correlation + LR": correlation_baseline(),
        "descriptors + LR": descriptor_baseline(
            networks=cohort.networks, random_state=0
        ),
    },
    X,
    y,
    cv="stratified",
    n_splits=5,
    n_repeats=2,
    n_bootstrap=500,
    n_permutations=200,
    permutation="fixed",
    random_state=0,
    verbose=0,
)
print(result.to_markdown(metric="roc_auc"))

# %%
# The per-fold scores behind the table
# ------------------------------------
print(result.scores.head())
result.plot("roc_auc")
