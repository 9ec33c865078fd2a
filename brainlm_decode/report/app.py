"""Local web app: upload (or pick the sample) map, choose options, get the report.

``brainlm-decode serve`` runs :func:`create_app` on ``127.0.0.1`` (loopback only,
unless ``--host`` says otherwise). Uploads are bounded (``MAX_CONTENT_LENGTH``,
413 page), checked before decoding (:func:`~brainlm_decode.report.checks.check_map`:
NIfTI, one 3D volume, MNI space) and answered with the same self-contained report
as ``decoder.report``. Bad input gets an error page that says what was wrong.
Needs the ``app`` extra (Flask).
"""

from __future__ import annotations

import copy
import html
import warnings
from typing import Any

__all__ = ["create_app"]

_PAGE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>{title}</title><style>
body{{font-family:system-ui,sans-serif;margin:32px;max-width:760px;color:#222}}
label{{display:block;margin:.6em 0}}fieldset{{margin:1em 0}}
.error{{border:1px solid #c33;background:#fdecec;padding:12px}}
</style></head><body>{body}</body></html>"""

_FORM = """<h1>brainlm-decode</h1>
<p>Decode a brain map (NIfTI, MNI space) into Cognitive Atlas tasks, concepts and
domains. Maps up to {limit} MB; nothing leaves this machine.</p>
<form id="decode-form" action="/decode" method="post" enctype="multipart/form-data">
<fieldset><legend>Map</legend>
<label><input type="radio" name="source" value="upload" checked> Upload:
<input type="file" id="map" name="map" accept=".nii,.nii.gz"></label>
<label><input type="radio" name="source" value="sample" id="use-sample"> nilearn's
sample motor activation map (NeuroVault)</label></fieldset>
<fieldset><legend>Options</legend>
<label>Level <select name="level" id="level"><option value="all">all</option>
<option value="task">task</option><option value="concept">concept</option>
<option value="domain">domain</option></select></label>
<label>Tail <select name="tail" id="tail"><option value="positive">positive</option>
<option value="negative">negative</option><option value="both">both</option>
<option value="abs">abs</option></select></label>
<label>Threshold: decode the top <input type="number" name="percentile"
id="percentile" min="0" max="100" step="any" placeholder="all"> % voxels</label>
<label>Terms per level <input type="number" name="top" value="10" min="1"
max="50"></label></fieldset>
<button type="submit" id="submit">Decode</button></form>"""


def _page(title: str, body: str) -> str:
    return _PAGE.format(title=html.escape(title), body=body)


def _error(message: str, status: int) -> tuple[str, int]:
    body = (
        f'<h1>Cannot decode this map</h1><div class="error" id="error">'
        f'{html.escape(message)}</div><p><a href="/">Back</a></p>'
    )
    return _page("Error", body), status


def create_app(
    decoder: Any = None,
    *,
    max_upload_mb: float = 20.0,
    model_name: str | None = None,
    n_explain: int = 1,
) -> Any:
    """The Flask application of ``brainlm-decode serve``.

    Parameters
    ----------
    decoder : CLIPDecoder or None, default=None
        A fitted decoder; ``None`` loads the packaged pretrained one.
    max_upload_mb : float, default=20.0
        Largest accepted request (larger ones get a 413 page).
    model_name : str or None, default=None
        Model name shown in the reports' provenance.
    n_explain : int, default=1
        Top terms explained in each report.

    Returns
    -------
    flask.Flask
    """
    try:
        from flask import Flask, request
    except ImportError as exc:  # pragma: no cover - depends on the extra
        raise ImportError(
            "The web app needs Flask: pip install 'brainlm_decode[app]'."
        ) from exc
    from brainlm_decode.report.checks import MapCheckError, check_map, load_map_bytes
    from brainlm_decode.report.html import build_report

    if decoder is None:
        from brainlm_decode.decode.decoder import CLIPDecoder

        decoder = CLIPDecoder.from_pretrained()
        model_name = model_name or "niclip-neuroquery-minilm"
    app = Flask("brainlm_decode")
    app.config["MAX_CONTENT_LENGTH"] = int(max_upload_mb * 1024 * 1024)
    limit = f"{max_upload_mb:g}"

    @app.get("/")
    def index() -> str:
        return _page("brainlm-decode", _FORM.format(limit=limit))

    @app.errorhandler(413)
    def too_large(_: Any) -> tuple[str, int]:
        return _error(f"The upload is larger than the limit of {limit} MB.", 413)

    @app.errorhandler(404)
    def not_found(_: Any) -> tuple[str, int]:
        return _error("There is no such page.", 404)

    @app.post("/decode")
    def decode() -> Any:
        form = request.form
        try:
            options = _options(form)
        except ValueError as exc:
            return _error(str(exc), 400)
        if form.get("source") == "sample":
            from nilearn.datasets import load_sample_motor_activation_image

            source, name = load_sample_motor_activation_image(), "sample motor map"
        else:
            upload = request.files.get("map")
            if upload is None or not upload.filename:
                return _error(
                    "No file was uploaded: choose a .nii or .nii.gz map.", 400
                )
            name = upload.filename
            try:
                source = load_map_bytes(upload.read(), name)
            except MapCheckError as exc:
                return _error(str(exc), 400)
        try:
            img = check_map(source)
            local = copy.copy(decoder)  # shares the fitted state, own options
            local.set_params(tail=options["tail"], percentile=options["percentile"])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return build_report(
                    local,
                    img,
                    top=options["top"],
                    n_explain=n_explain,
                    levels=options["levels"],
                    title=f"Decoding of {name}",
                    model_name=model_name,
                )
        except (MapCheckError, ValueError) as exc:
            return _error(str(exc), 400)

    return app


def _options(form: Any) -> dict[str, Any]:
    level = form.get("level", "all")
    if level not in ("all", "task", "concept", "domain"):
        raise ValueError(f"Unknown level {level!r}.")
    tail = form.get("tail", "positive")
    if tail not in ("positive", "negative", "both", "abs"):
        raise ValueError(f"Unknown tail {tail!r}.")
    text = (form.get("percentile") or "").strip()
    try:
        percentile = float(text) if text else None
        top = int(form.get("top") or 10)
    except ValueError as exc:
        raise ValueError("Threshold and terms per level must be numbers.") from exc
    if percentile is not None and not 0 < percentile <= 100:
        raise ValueError(f"The threshold must be in (0, 100] %. Got {percentile}.")
    if not 1 <= top <= 50:
        raise ValueError(f"Terms per level must be between 1 and 50. Got {top}.")
    levels = ("task", "concept", "domain") if level == "all" else (level,)
    return {"levels": levels, "tail": tail, "percentile": percentile, "top": top}
