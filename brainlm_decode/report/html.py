"""One self-contained HTML file per decoded map (opens offline, assets inlined).

Sections: an interactive viewer of the input (nilearn's ``view_img``, inlined in
an ``iframe srcdoc``), SVG bar charts of the top tasks, concepts and domains (with
``p``/``q`` columns when the decoder's tables have them), a gallery of the
explanation maps of the top terms (PNG data URIs, see
:func:`~brainlm_decode.decode.explain.explain_term`), and provenance (model, its
checksum, the input's sha256, settings, date). Nothing refers to the network.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import html
import io
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from brainlm_decode._version import __version__

__all__ = ["build_report", "model_checksum", "write_report"]

_VALUE = {"task": "posterior", "concept": "probability", "domain": "probability"}
_LABELS = {
    "task": "P(task | map)",
    "concept": "concept score (noisy-OR + concept text)",
    "domain": "P(domain | map), noisy-OR",
}
_CSS = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
td,th{border:1px solid #ddd;padding:3px 8px;text-align:left}
th{background:#f3f5f8}.bars{display:flex;flex-wrap:wrap;gap:16px}
.gallery{display:flex;flex-wrap:wrap;gap:16px}.card{border:1px solid #ddd;padding:8px;
width:480px}.card img{width:100%}iframe{border:1px solid #ddd;width:100%;height:430px}
.muted{color:#666;font-size:.85em}
"""


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def model_checksum(decoder: Any) -> str:
    """sha256 of a fitted decoder's weights, task embeddings and prior.

    Parameters
    ----------
    decoder : CLIPDecoder
        A fitted decoder.

    Returns
    -------
    str
        Hex digest; equal for two decoders that decode identically.
    """
    digest = hashlib.sha256()
    for name, tensor in sorted(decoder.model_.state_dict().items()):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(tensor.detach().cpu().numpy()).tobytes())
    for array in (decoder.task_embeddings_, decoder.prior_):
        digest.update(np.ascontiguousarray(array, dtype=np.float32).tobytes())
    return digest.hexdigest()


def input_sha256(img: Any) -> tuple[str, str]:
    """sha256 of a map: of the file for a path, else of its data and affine."""
    if isinstance(img, (str, os.PathLike)):
        digest = hashlib.sha256(Path(img).read_bytes()).hexdigest()
        return digest, Path(img).name
    data = np.ascontiguousarray(np.asanyarray(img.dataobj))
    digest = hashlib.sha256(data.tobytes() + np.asarray(img.affine).tobytes())
    return digest.hexdigest(), "in-memory image (hash of data and affine)"


def _svg_bars(table: pd.DataFrame, column: str, title: str) -> str:
    """A horizontal bar chart as inline SVG."""
    width, label_w, row_h = 520, 250, 20
    height = 24 + row_h * len(table)
    top = max(float(table[column].max()), 1e-12)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" '
        f'height="{height}" aria-label="{_esc(title)}">',
        f'<text x="0" y="14" font-size="13" font-weight="bold">{_esc(title)}</text>',
    ]
    for i, (name, value) in enumerate(table[column].items()):
        y = 24 + i * row_h
        w = (width - label_w - 60) * float(value) / top
        label = str(name) if len(str(name)) <= 38 else str(name)[:37] + "..."
        parts += [
            f'<text x="{label_w - 6}" y="{y + 14}" font-size="11" '
            f'text-anchor="end"><title>{_esc(name)}</title>{_esc(label)}</text>',
            f'<rect class="bar" x="{label_w}" y="{y + 3}" width="{w:.1f}" '
            f'height="{row_h - 6}" fill="#3b6ea5"/>',
            f'<text x="{label_w + w + 4:.1f}" y="{y + 14}" font-size="10">'
            f"{float(value):.3f}</text>",
        ]
    parts.append("</svg>")
    return "".join(parts)


def _html_table(table: pd.DataFrame, columns: list[str], index_name: str) -> str:
    head = "".join(f"<th>{_esc(c)}</th>" for c in [index_name, *columns])
    rows = []
    for name, row in table.iterrows():
        cells = [f"<td>{_esc(name)}</td>"]
        for c in columns:
            value = row[c]
            text = f"{value:.4g}" if isinstance(value, (float, np.floating)) else value
            cells.append(f"<td>{_esc(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _level_section(table: pd.DataFrame, level: str, top: int) -> str:
    column = _VALUE[level]
    table = table.sort_values(column, ascending=False).head(top)
    extra = [c for c in ("p", "q", "p_value", "q_value") if c in table.columns]
    label = _LABELS[level]
    chart = _svg_bars(table, column, f"Top {len(table)} {level}s: {label}")
    return (
        f'<div class="level" id="level-{level}">{chart}'
        f"{_html_table(table, ['id', column, *extra], level)}</div>"
    )


def _viewer(img: Any, threshold: Any) -> str:
    from nilearn.plotting import view_img

    if isinstance(threshold, str) and threshold == "auto":
        # nilearn's "auto" (80th percentile of |values|, minus 1e-5) is negative
        # for sparse maps (ROIs, MKDA maps): then show every non-zero voxel
        values = np.abs(np.asarray(img.dataobj, dtype=np.float64))
        values = values[np.isfinite(values)]
        top = float(values.max()) if values.size else 0.0
        auto = float(np.percentile(values, 80)) - 1e-5 if values.size else 0.0
        threshold = auto if auto > 0 else (1e-6 * top if top > 0 else None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        page = view_img(img, threshold=threshold, title="input map").get_standalone()
    return f'<iframe title="input map viewer" srcdoc="{_esc(page)}"></iframe>'


def _explanation_card(decoder: Any, img: Any, term: str, level: str) -> str:
    import matplotlib.pyplot as plt
    from nilearn import plotting

    result = decoder.explain(img, term, level=level, top=5)
    fig = plt.figure(figsize=(7, 2.6))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plotting.plot_stat_map(
            result.img,
            figure=fig,
            display_mode="ortho",
            draw_cross=False,
            annotate=False,
            cmap="RdBu_r",
            colorbar=True,
        )
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    plt.close(fig)
    png = base64.b64encode(buffer.getvalue()).decode("ascii")
    table = result.table.set_index("region")
    cols = ["atlas_region", "x", "y", "z", "contribution", "fraction"]
    return (
        f'<div class="card"><b>{_esc(level)}: {_esc(result.term)}</b>'
        f'<div class="muted">score {result.score:.4f}; baseline ({result.baseline})'
        f" {result.baseline_score:.4f}; contributions sum to the difference within "
        f"{result.completeness_error:.1e} ({result.n_steps} steps); region names: "
        f"{_esc(result.region_atlas)}</div>"
        f'<img alt="explanation map of {_esc(result.term)}" '
        f'src="data:image/png;base64,{png}"/>{_html_table(table, cols, "region")}</div>'
    )


def _provenance(decoder: Any, img: Any, model_name: str | None) -> dict[str, str]:
    digest, source = input_sha256(img)
    params = decoder.get_params(deep=False)
    encoder = params.get("text_encoder")
    space = params.get("image_space")
    return {
        "model": model_name or "CLIPDecoder (user-fitted)",
        "brainlm_decode version": __version__,
        "model checksum (sha256 of weights)": model_checksum(decoder),
        "text encoder": encoder if isinstance(encoder, str) else type(encoder).__name__,
        "image space": f"{space if isinstance(space, str) else type(space).__name__}"
        f" ({decoder.image_space_.n_regions_} regions)",
        "training studies": str(getattr(decoder, "n_studies_", "?")),
        "ontology": f"{decoder.ontology_.n_tasks} tasks, "
        f"{decoder.ontology_.n_concepts} concepts, {decoder.ontology_.n_domains} "
        "domains",
        "input": source,
        "input sha256": digest,
        "settings": f"tail={decoder.tail}, flip_sign={decoder.flip_sign}, "
        f"percentile={decoder.percentile}, prior={decoder.prior}",
        "date (UTC)": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S"),
    }


def build_report(
    decoder: Any,
    img: Any,
    *,
    top: int = 10,
    n_explain: int = 3,
    title: str | None = None,
    model_name: str | None = None,
    threshold: Any = "auto",
    results: dict[str, pd.DataFrame] | None = None,
    levels: tuple[str, ...] = ("task", "concept", "domain"),
) -> str:
    """The HTML text of a self-contained decoding report.

    Parameters
    ----------
    decoder : CLIPDecoder
        A fitted decoder (its decoding options are used and reported).
    img : niimg-like
        One brain map (a path is hashed as a file).
    top : int, default=10
        Terms per level in the charts.
    n_explain : int, default=3
        Top tasks explained in the gallery (plus the top concept and domain);
        0 for none.
    title : str or None, default=None
        Page title; ``None`` names the input.
    model_name : str or None, default=None
        Model name shown in the provenance (e.g. the pretrained bundle's).
    threshold : float or "auto", default="auto"
        Threshold of the interactive viewer.
    results : dict or None, default=None
        Output of ``decoder.decode(img)`` when already computed.
    levels : tuple of str, default=("task", "concept", "domain")
        Levels charted and explained.

    Returns
    -------
    str
        The HTML document.
    """
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise ValueError(f"The 'top' argument must be an int >= 1. Got {top!r}.")
    if not levels or any(lv not in _VALUE for lv in levels):
        raise ValueError(
            "The 'levels' argument must hold 'task', 'concept' or 'domain'. Got "
            f"{levels!r}."
        )
    if isinstance(n_explain, bool) or not isinstance(n_explain, int) or n_explain < 0:
        raise ValueError(
            f"The 'n_explain' argument must be an int >= 0. Got {n_explain!r}."
        )
    from brainlm_decode.imaging.atlas import load_niimg

    loaded = load_niimg(img, "img")
    if results is None:
        results = decoder.decode(loaded)
    provenance = _provenance(decoder, img, model_name)
    title = title or f"Decoding of {provenance['input']}"
    charts = "".join(_level_section(results[lv], lv, top) for lv in levels)
    cards = []
    if n_explain:
        terms = [(levels[0], t) for t in results[levels[0]].index[:n_explain]]
        terms += [(lv, results[lv].index[0]) for lv in levels[1:]]
        cards = [_explanation_card(decoder, loaded, t, lv) for lv, t in terms]
    rows = "".join(
        f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>" for k, v in provenance.items()
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{_esc(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{_esc(title)}</h1>"
        '<p class="muted">NiCLIP decoding with brainlm_decode: task posteriors '
        "P(T|A), concept scores (noisy-OR mixed with the concepts' own text) "
        "and domain probabilities by noisy-OR.</p>"
        f"<h2>Input map</h2>{_viewer(loaded, threshold)}"
        f'<h2>Top terms</h2><div class="bars" id="results">{charts}</div>'
        '<h2>Why these terms: explanation maps</h2><p class="muted">Contribution '
        "of each region to the term's score (integrated gradients through the image "
        "tower; red raises the score, blue lowers it).</p>"
        f'<div class="gallery">{"".join(cards) or "<p>none requested</p>"}</div>'
        f'<h2>Provenance</h2><table id="provenance">{rows}</table>'
        "</body></html>"
    )


def write_report(
    decoder: Any, img: Any, path: str | os.PathLike, **kwargs: Any
) -> Path:
    """Write :func:`build_report`'s HTML to ``path`` (atomically).

    Parameters
    ----------
    decoder : CLIPDecoder
        A fitted decoder.
    img : niimg-like
        One brain map.
    path : str or path-like
        Destination ``.html`` file.
    **kwargs
        Passed to :func:`build_report`.

    Returns
    -------
    Path
    """
    path = Path(path)
    text = build_report(decoder, img, **kwargs)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path
