"""Share decodings: a self-contained HTML report and a local web app.

:func:`build_report` / :func:`write_report` turn a decoded map into one HTML file
that opens offline (interactive viewer, bar charts, explanation gallery,
provenance); :func:`create_app` serves the same report from a local Flask app
(``brainlm-decode serve``).
"""

from __future__ import annotations

from brainlm_decode._lazy import attach

_LAZY = {
    "build_report": "brainlm_decode.report.html",
    "write_report": "brainlm_decode.report.html",
    "check_map": "brainlm_decode.report.checks",
    "create_app": "brainlm_decode.report.app",
}

__all__ = ["build_report", "check_map", "create_app", "write_report"]

__getattr__, __dir__ = attach(__name__, _LAZY)
