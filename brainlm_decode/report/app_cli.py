"""``brainlm-decode serve``: the local web app (loopback by default)."""

from __future__ import annotations

import argparse
from typing import Any


def add_serve_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``serve`` sub-command to the ``brainlm-decode`` parser."""
    serve = sub.add_parser("serve", help="local web app: upload a map, get a report")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="interface (default: %(default)s, this machine only)",
    )
    serve.add_argument("--model", default=None, help="pretrained name or folder")
    serve.add_argument("--max-upload-mb", type=float, default=20.0)
    serve.set_defaults(run=run_serve)
    return serve


def run_serve(args: argparse.Namespace) -> int:
    """Run the app until interrupted."""
    from brainlm_decode.decode.decoder import CLIPDecoder
    from brainlm_decode.report.app import create_app

    decoder = CLIPDecoder.from_pretrained(args.model)
    app = create_app(
        decoder,
        max_upload_mb=args.max_upload_mb,
        model_name=args.model or "niclip-neuroquery-minilm",
    )
    print(f"brainlm-decode serving on http://{args.host}:{args.port}/ (Ctrl-C stops)")
    app.run(host=args.host, port=args.port, debug=False, use_reloader=False)
    return 0
