"""Figures of decoding results: the input map and the top terms per level."""

from __future__ import annotations

import os
from typing import Any

import pandas as pd

_VALUE_COLUMNS = {
    "task": "posterior",
    "concept": "probability",
    "domain": "probability",
}


def plot_decoding(
    results: dict[str, pd.DataFrame],
    *,
    img: Any = None,
    top: int = 10,
    title: str | None = None,
    output_file: str | os.PathLike | None = None,
) -> Any:
    """Bar plots of the top tasks, concepts and domains, with the decoded map.

    Parameters
    ----------
    results : dict of str to DataFrame
        Output of :meth:`CLIPDecoder.decode` for one map (keys among ``"task"``,
        ``"concept"``, ``"domain"``).
    img : niimg-like or None, default=None
        Decoded map, drawn with :func:`nilearn.plotting.plot_stat_map` above the
        bars.
    top : int, default=10
        Number of terms per level.
    title : str or None, default=None
        Figure title.
    output_file : str, path-like or None, default=None
        Where to save the figure (PNG, PDF, SVG...). The figure is closed then.

    Returns
    -------
    matplotlib.figure.Figure or None
        The figure, or ``None`` when saved to ``output_file``.
    """
    import matplotlib.pyplot as plt

    if not isinstance(top, int) or top < 1:
        raise ValueError(
            f"The 'top' argument must be a positive int. Got {top!r} instead."
        )
    levels = [level for level in ("task", "concept", "domain") if level in results]
    if not levels:
        raise ValueError(
            "The 'results' argument must hold at least one of 'task', 'concept', "
            f"'domain'. Got keys {sorted(results)} instead."
        )
    n_rows = len(levels) + (img is not None)
    ratios = ([1.2] if img is not None else []) + [1.0] * len(levels)
    fig = plt.figure(figsize=(9, 2.8 * n_rows + 0.6))
    # fixed margins (no constrained layout): nilearn places its own axes inside the
    # bounding box of the axes it is given, which must not move after drawing
    grid = fig.add_gridspec(
        n_rows,
        1,
        height_ratios=ratios,
        hspace=0.45,
        left=0.34,
        right=0.97,
        top=0.94,
        bottom=0.06,
    )
    row = 0
    if img is not None:
        from nilearn import plotting

        ax = fig.add_subplot(grid[0])
        plotting.plot_stat_map(
            img,
            axes=ax,
            display_mode="ortho",
            colorbar=True,
            draw_cross=False,
            annotate=False,
        )
        row = 1
    for level in levels:
        column = _VALUE_COLUMNS[level]
        table = results[level].sort_values(column, ascending=False).head(top)
        ax = fig.add_subplot(grid[row])
        row += 1
        ax.barh(range(len(table))[::-1], table[column].to_numpy(), color="#3b6ea5")
        ax.set_yticks(range(len(table))[::-1])
        ax.set_yticklabels([str(name)[:60] for name in table.index], fontsize=8)
        label = {
            "task": "P(task | map)",
            "concept": "concept score (noisy-OR + concept text)",
            "domain": "P(domain | map), noisy-OR",
        }[level]
        ax.set_xlabel(label)
        ax.set_title(f"Top {len(table)} {level}s", loc="left", fontsize=10)
    if title:
        fig.suptitle(title)
    if output_file is not None:
        fig.savefig(output_file, dpi=120)
        plt.close(fig)
        return None
    return fig
