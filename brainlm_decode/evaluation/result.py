"""The result of :func:`~brainlm_decode.evaluation.compare_estimators`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["ComparisonResult"]


def _fmt(value: Any, digits: int) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return ""
    return f"{value:.{digits}f}"


@dataclass
class ComparisonResult:
    """Scores of estimators compared on the same folds.

    Attributes
    ----------
    scores : DataFrame
        Tidy, one row per estimator, split and metric: ``estimator, repeat,
        fold, group`` (held-out group(s) with ``groups``, else None), ``metric,
        score, skipped`` (why a split was not scored, else None), ``fit_time,
        predict_time, n_train, n_test``.
    predictions : DataFrame
        Out-of-fold predictions: ``estimator, repeat, subject, y_true, y_pred,
        value`` (labels encoded: 1 = positive class for binary targets; value
        = positive-class probability).
    summary_table : DataFrame
        See :meth:`summary`.
    reference : str
        Estimator of the paired differences.
    settings : dict
        CV scheme, repeats, bootstrap and permutation counts, seed.
    """

    scores: pd.DataFrame
    predictions: pd.DataFrame
    summary_table: pd.DataFrame
    reference: str
    settings: dict[str, Any] = field(default_factory=dict)

    def summary(self, metric: str | Sequence[str] | None = None) -> pd.DataFrame:
        """One row per estimator and metric.

        Parameters
        ----------
        metric : str, list of str or None, default=None
            Keep these metrics only.

        Returns
        -------
        DataFrame
            ``estimator, metric, mean, sd`` (over splits), ``sd_repeats`` (of
            the repeat means), ``pooled`` (pooled out-of-fold score),
            ``ci_low, ci_high`` (stratified bootstrap), ``p_value``,
            ``permutation`` (mode), ``n_splits`` (scored), ``n_skipped``,
            ``fit_time`` (mean s),
            ``diff_mean, diff_sd, diff_ci_low, diff_ci_high`` (against
            ``reference``; NaN on its own rows).
        """
        table = self.summary_table
        if metric is not None:
            metrics = [metric] if isinstance(metric, str) else list(metric)
            table = table[table["metric"].isin(metrics)]
        return table.reset_index(drop=True).copy()

    def to_markdown(
        self, metric: str | Sequence[str] | None = None, digits: int = 3
    ) -> str:
        """The summary as a Markdown table (no extra dependency).

        Parameters
        ----------
        metric : str, list of str or None, default=None
            Keep these metrics only.
        digits : int, default=3
            Decimals of the scores.

        Returns
        -------
        str
        """
        level = int(round(100 * self.settings.get("confidence_level", 0.95)))
        statistic = self.settings.get("statistic", "pooled")
        header = [
            "estimator",
            "metric",
            "mean ± sd",
            "sd (repeats)",
            f"{level}% CI ({statistic})",
            "p",
            f"Δ vs {self.reference} [{level}% CI]",
            "fit s",
        ]
        lines = [
            "| " + " | ".join(header) + " |",
            "|" + "|".join("---" for _ in header) + "|",
        ]
        for _, row in self.summary(metric).iterrows():
            diff = ""
            if np.isfinite(row["diff_mean"]):
                diff = (
                    f"{row['diff_mean']:+.{digits}f} [{row['diff_ci_low']:+.{digits}f}, "
                    f"{row['diff_ci_high']:+.{digits}f}]"
                )
            cells = [
                str(row["estimator"]),
                str(row["metric"]),
                f"{_fmt(row['mean'], digits)} ± {_fmt(row['sd'], digits)}",
                _fmt(row["sd_repeats"], digits),
                f"[{_fmt(row['ci_low'], digits)}, {_fmt(row['ci_high'], digits)}]",
                _fmt(row["p_value"], 3),
                diff,
                _fmt(row["fit_time"], 1),
            ]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def split_table(self, metric: str) -> pd.DataFrame:
        """Per-split scores of one metric, one column per estimator.

        Parameters
        ----------
        metric : str
            A metric of ``scores``.

        Returns
        -------
        DataFrame
            Index ``(repeat, fold, group)`` (``group``: the held-out site of a
            leave-one-site-out split), one column per estimator; NaN where a
            split was skipped.
        """
        table = self.scores[self.scores["metric"] == metric].copy()
        table["group"] = table["group"].fillna("")
        index = ["repeat", "fold", "group"]
        out = table.pivot(index=index, columns="estimator", values="score")
        rows = pd.MultiIndex.from_frame(table[index].drop_duplicates())
        order = list(dict.fromkeys(table["estimator"]))
        return out.reindex(index=rows, columns=order)

    def plot(self, metric: str | None = None, ax: Any = None) -> Any:
        """Per-split scores of each estimator, mean and bootstrap CI.

        Parameters
        ----------
        metric : str or None, default=None
            Metric to show (default: the first).
        ax : matplotlib Axes or None, default=None
            Axes to draw in (a new figure otherwise).

        Returns
        -------
        matplotlib Axes
        """
        import matplotlib.pyplot as plt

        metric = metric or str(self.scores["metric"].iloc[0])
        table = self.summary(metric).set_index("estimator")
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 0.6 * len(table) + 1.5))
        rng = np.random.RandomState(0)
        for k, name in enumerate(table.index):
            values = self.scores[
                (self.scores.estimator == name) & (self.scores.metric == metric)
            ]["score"].to_numpy()
            ax.scatter(
                values,
                k + rng.uniform(-0.15, 0.15, values.size),
                s=12,
                alpha=0.5,
                color="0.4",
            )
            row = table.loc[name]
            ax.errorbar(
                row["mean"],
                k,
                xerr=[[row["mean"] - row["ci_low"]], [row["ci_high"] - row["mean"]]],
                fmt="o",
                color="C3",
                capsize=4,
            )
        ax.set_yticks(range(len(table)), list(table.index))
        ax.invert_yaxis()
        if metric in ("roc_auc", "balanced_accuracy"):
            ax.axvline(0.5, color="0.7", linestyle="--", linewidth=1)
        ax.set_xlabel(f"{metric} (dots: splits; red: mean and bootstrap CI)")
        return ax
