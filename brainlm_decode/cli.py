"""Command line: ``brainlm-decode demo | decode | train | plugins``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

LEVEL_CHOICES = ("task", "concept", "domain", "all")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``brainlm-decode`` command."""
    parser = argparse.ArgumentParser(
        prog="brainlm-decode",
        description="Decode brain maps into Cognitive Atlas tasks, concepts and "
        "domains (NiCLIP), and train decoders from NiMARE collections.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="decode nilearn's sample motor map offline")
    demo.add_argument("--top", type=int, default=10)
    demo.add_argument(
        "--plot",
        default="brainlm_decode_demo.png",
        help="figure path (default: %(default)s); '' for none",
    )

    decode = sub.add_parser("decode", help="decode a brain map")
    decode.add_argument("map", help="NIfTI map in MNI space")
    decode.add_argument(
        "--model",
        default=None,
        help="pretrained name or folder (default: packaged bundle)",
    )
    decode.add_argument("--top", type=int, default=10)
    decode.add_argument("--level", choices=LEVEL_CHOICES, default="all")
    decode.add_argument(
        "--tail", choices=("positive", "negative", "both", "abs"), default=None
    )
    decode.add_argument("--flip-sign", action="store_true")
    decode.add_argument("--percentile", type=float, default=None)
    decode.add_argument("--plot", default=None, help="write a figure here")
    decode.add_argument("--json", action="store_true", help="print JSON")
    decode.add_argument("--html", default=None, help="write an HTML report here")

    train = sub.add_parser("train", help="train a decoder on a NiMARE collection")
    train.add_argument("collection", help="Studyset folder/JSON or Dataset JSON")
    train.add_argument("--out", required=True, help="folder to write the decoder to")
    train.add_argument(
        "--ontology",
        default=None,
        help="Cognitive Atlas dump folder or saved ontology JSON",
    )
    train.add_argument("--text-encoder", default="minilm")
    train.add_argument("--image-space", default="mni-parcels")
    train.add_argument("--text-source", default="title,abstract")
    train.add_argument("--max-epochs", type=int, default=50)
    train.add_argument("--device", default="auto")
    train.add_argument("--random-state", type=int, default=0)
    train.add_argument("--overwrite", action="store_true")
    train.add_argument("-v", "--verbose", action="count", default=0)

    from brainlm_decode.decode.batch_cli import add_batch_parser
    from brainlm_decode.report.app_cli import add_serve_parser

    add_batch_parser(sub)
    add_serve_parser(sub)

    plugins = sub.add_parser("plugins", help="list available plugins")
    plugins.add_argument("group", nargs="?", default=None)
    return parser


def _print_tables(results: dict[str, Any], levels: Sequence[str], top: int) -> None:
    for level in levels:
        table = results[level].head(top)
        column = "posterior" if level == "task" else "probability"
        print(f"\nTop {len(table)} {level}s")
        width = max((len(str(n)) for n in table.index), default=10)
        for name, value in table[column].items():
            print(f"  {str(name):<{width}}  {value:.4f}")


def _as_json(results: dict[str, Any], levels: Sequence[str], top: int) -> str:
    payload = {}
    for level in levels:
        table = results[level].head(top)
        payload[level] = [
            {
                "name": str(name),
                **{k: (v if isinstance(v, str) else float(v)) for k, v in row.items()},
            }
            for name, row in table.iterrows()
        ]
    return json.dumps(payload, indent=1)


def _decode(decoder: Any, img: Any, args: argparse.Namespace, label: str) -> int:
    levels = ("task", "concept", "domain") if args.level == "all" else (args.level,)
    results = decoder.decode(img)
    if getattr(args, "json", False):
        print(_as_json(results, levels, args.top))
    else:
        print(f"Decoded {label}")
        _print_tables(results, levels, args.top)
    if args.plot:
        from brainlm_decode.decode.plotting import plot_decoding

        plot_decoding(
            results, img=img, top=args.top, title=label, output_file=args.plot
        )
        print(f"\nFigure written to {args.plot}", file=sys.stderr)
    if getattr(args, "html", None):
        decoder.report(
            img,
            args.html,
            top=args.top,
            results=results,
            model_name=getattr(args, "model", None) or "niclip-neuroquery-minilm",
        )
        print(f"Report written to {args.html}", file=sys.stderr)
    return 0


def _run_demo(args: argparse.Namespace) -> int:
    from nilearn.datasets import load_sample_motor_activation_image

    from brainlm_decode.decode.decoder import CLIPDecoder

    decoder = CLIPDecoder.from_pretrained()
    print(
        f"Pretrained decoder: {decoder.n_studies_} NeuroQuery studies, "
        f"{decoder.ontology_.n_tasks} tasks, image space of "
        f"{decoder.image_space_.n_regions_} regions"
    )
    img = load_sample_motor_activation_image()
    args.level = "all"
    return _decode(
        decoder, img, args, "nilearn sample motor activation map (NeuroVault)"
    )


def _run_decode(args: argparse.Namespace) -> int:
    from brainlm_decode.decode.decoder import CLIPDecoder

    if not Path(args.map).is_file():
        raise SystemExit(f"brainlm-decode decode: map file {args.map!r} does not exist")
    decoder = CLIPDecoder.from_pretrained(args.model)
    options = {"flip_sign": args.flip_sign, "percentile": args.percentile}
    if args.tail:
        options["tail"] = args.tail
    decoder.set_params(**options)
    return _decode(decoder, args.map, args, Path(args.map).name)


def _run_train(args: argparse.Namespace) -> int:
    from brainlm_decode.decode.decoder import CLIPDecoder

    decoder = CLIPDecoder(
        text_encoder=args.text_encoder,
        image_space=args.image_space,
        ontology=args.ontology,
        text_source=tuple(args.text_source.split(",")),
        max_epochs=args.max_epochs,
        device=args.device,
        random_state=args.random_state,
        verbose=args.verbose,
    )
    decoder.fit(args.collection)
    decoder.save(args.out, overwrite=args.overwrite)
    history = decoder.history_
    print(
        f"Trained on {decoder.n_studies_} studies; best epoch "
        f"{history.get('best_epoch')}; saved to {args.out}"
    )
    return 0


def _run_plugins(args: argparse.Namespace) -> int:
    from brainlm_decode.plugins import GROUPS, list_plugins

    groups = [args.group] if args.group else list(GROUPS)
    for group in groups:
        print(f"{group}: {', '.join(list_plugins(group)) or '(none)'}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``brainlm-decode`` command."""
    args = build_parser().parse_args(argv)
    runners = {
        "demo": _run_demo,
        "decode": _run_decode,
        "train": _run_train,
        "plugins": _run_plugins,
        "decode-batch": lambda a: a.run(a),
        "serve": lambda a: a.run(a),
    }
    return runners[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
