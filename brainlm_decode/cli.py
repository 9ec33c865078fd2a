"""Command line: ``brainlm-decode demo | decode | train | train-clip | plugins``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

LEVEL_CHOICES = ("task", "concept", "domain", "all")


class _Parser(argparse.ArgumentParser):
    """Argument parser whose errors are one line naming the command (exit code 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


class RenamedFlag(argparse.Action):
    """A flag's former name: stores into the new flag's ``dest``, warns once on stderr.

    Kept for one release, hidden from ``--help``; ``new`` is the current flag.
    """

    def __init__(self, option_strings: Any, dest: str, new: str, **kwargs: Any):
        self.new = new
        super().__init__(option_strings, dest, help=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: Any, namespace: Any, values: Any, option: Any = None):
        print(
            f"{parser.prog}: warning: {option} was renamed {self.new}; {option} will "
            "be removed in the next release.",
            file=sys.stderr,
        )
        setattr(namespace, self.dest, values)


def positive_int(text: str) -> int:
    """Argument type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a positive integer, got {text!r}"
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def non_negative_int(text: str) -> int:
    """Argument type: an integer >= 0."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(
            f"expected a non-negative integer, got {text!r}"
        )
    return value


def unit_float(text: str) -> float:
    """Argument type: a number in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}")
    return value


def percentile_float(text: str) -> float:
    """Argument type: a percentage in (0, 100]."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value <= 100:
        raise argparse.ArgumentTypeError(
            f"expected a percentage in (0, 100], got {text!r}"
        )
    return value


def input_file(text: str) -> str:
    """Argument type: an existing file (a folder is refused as such)."""
    path = Path(text).expanduser()
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a directory, expected a file")
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"file {text!r} does not exist")
    return str(path)


def input_path(text: str) -> str:
    """Argument type: an existing file or folder."""
    path = Path(text).expanduser()
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{text!r} does not exist")
    return str(path)


def ontology_source(text: str) -> str:
    """Argument type: 'snapshot', 'live' or an existing dump folder / ontology JSON."""
    if text in ("snapshot", "live"):
        return text
    try:
        return input_path(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected 'snapshot', 'live', a Cognitive Atlas dump folder or a saved "
            f"ontology JSON, got {text!r}, which does not exist"
        ) from None


def output_file(text: str) -> str:
    """Argument type: a file that can be written ('' for none)."""
    if text == "":
        return text
    path = Path(text).expanduser()
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a directory, expected a file")
    if not path.absolute().parent.is_dir():
        raise argparse.ArgumentTypeError(
            f"cannot write {text!r}: folder {str(path.absolute().parent)!r} does not "
            "exist"
        )
    _check_writable_parent(path, text)
    return str(path)


def output_folder(text: str) -> str:
    """Argument type: a folder that can be created (existing: see --overwrite)."""
    path = Path(text).expanduser()
    if path.is_file():
        raise argparse.ArgumentTypeError(f"{text!r} is a file, expected a folder")
    _check_writable_parent(path, text)
    return str(path)


def _check_writable_parent(path: Path, text: str) -> None:
    parent = path.absolute().parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(
            f"cannot write {text!r}: folder {str(parent)!r} is not writable"
        )


def device_name(text: str) -> str:
    """Argument type: a torch device name."""
    from brainlm_decode.base import is_device

    if not is_device(text):
        raise argparse.ArgumentTypeError(
            f"expected a device such as 'cpu', 'cuda:0' or 'auto', got {text!r}"
        )
    return text


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``brainlm-decode`` command."""
    parser = _Parser(
        prog="brainlm-decode",
        description="Decode brain maps into Cognitive Atlas tasks, concepts and "
        "domains (NiCLIP), and train decoders from NiMARE collections.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="decode nilearn's sample motor map offline")
    demo.add_argument("--top", type=positive_int, default=10)
    demo.add_argument(
        "--plot",
        default="brainlm_decode_demo.png",
        type=output_file,
        help="figure path (default: %(default)s); '' for none",
    )

    decode = sub.add_parser("decode", help="decode a brain map")
    decode.add_argument("map", type=input_file, help="NIfTI map in MNI space")
    decode.add_argument(
        "--model",
        default=None,
        help="pretrained name or folder (default: packaged bundle)",
    )
    decode.add_argument("--top", type=positive_int, default=10)
    decode.add_argument("--level", choices=LEVEL_CHOICES, default="all")
    decode.add_argument(
        "--tail", choices=("positive", "negative", "both", "abs"), default=None
    )
    decode.add_argument("--flip-sign", action="store_true")
    decode.add_argument("--percentile", type=percentile_float, default=None)
    decode.add_argument(
        "--concept-text-weight",
        type=unit_float,
        default=None,
        help="weight of the concepts' own text against the task noisy-OR in "
        "concept scores (default: the model's, 0.75; 0 for the noisy-OR alone)",
    )
    decode.add_argument(
        "--n-null",
        type=non_negative_int,
        default=0,
        help="null maps (spun copies) for p and FDR q columns (default: none)",
    )
    decode.add_argument(
        "--null-pvalues",
        choices=("tail", "empirical"),
        default="tail",
        help="p-values below 10/n-null from a generalized Pareto tail fit (tail, "
        "the default) or counted only (empirical, at least 1/(n-null+1))",
    )
    decode.add_argument(
        "--plot", type=output_file, default=None, help="write a figure here"
    )
    decode.add_argument("--json", action="store_true", help="print JSON")
    decode.add_argument("--html", default=None, help="write an HTML report here")

    train = sub.add_parser("train", help="train a decoder on a NiMARE collection")
    train.add_argument(
        "collection", type=input_path, help="Studyset folder/JSON or Dataset JSON"
    )
    train.add_argument(
        "--out",
        required=True,
        type=output_folder,
        help="folder to write the decoder to",
    )
    train.add_argument(
        "--ontology",
        default=None,
        type=ontology_source,
        help="'snapshot' (default: the Cognitive Atlas shipped with the package, "
        "offline), 'live' (current API, cached), a Cognitive Atlas dump folder or a "
        "saved ontology JSON",
    )
    train.add_argument("--text-encoder", default="minilm")
    train.add_argument("--image-space", default="mni-parcels")
    train.add_argument("--text-source", default="title,abstract")
    train.add_argument("--n-epochs", type=positive_int, default=50)
    train.add_argument(
        "--max-epochs",
        dest="n_epochs",
        type=positive_int,
        action=RenamedFlag,
        new="--n-epochs",
    )
    train.add_argument("--device", type=device_name, default="auto")
    train.add_argument("--random-state", type=non_negative_int, default=0)
    train.add_argument("--overwrite", action="store_true")
    train.add_argument("-v", "--verbose", action="count", default=0)

    from brainlm_decode.clip import cli_train

    cli_train.add_arguments(
        sub.add_parser(
            "train-clip", help="train the CLIP model on embeddings (torchrun)"
        )
    )
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
        tested = "q" in table.columns
        for name, value in table[column].items():
            extra = (
                f"  p={table.at[name, 'p']:.4f}  q={table.at[name, 'q']:.4f}"
                if tested
                else ""
            )
            print(f"  {str(name):<{width}}  {value:.4f}{extra}")
        if level != "task" and table[column].round(4).duplicated().any():
            print(
                f"  (equal values: these {level}s are linked to the same tasks, so "
                "their noisy-OR probabilities are equal"
                + (
                    " and their own text does not separate them)"
                    if level == "concept"
                    else ")"
                )
            )


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
    results = decoder.decode(
        img,
        n_null=getattr(args, "n_null", 0),
        null_pvalues=getattr(args, "null_pvalues", "tail"),
    )
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
    import warnings

    import nibabel as nib
    from nilearn.datasets import load_sample_motor_activation_image

    from brainlm_decode.decode.decoder import CLIPDecoder

    decoder = CLIPDecoder.from_pretrained()
    print(
        f"Pretrained decoder: trained on {decoder.n_studies_:,} NeuroQuery studies "
        f"(the 13,459 of NeuroQuery less 1,000 held out to measure it), "
        f"{decoder.ontology_.n_tasks} tasks, image space of "
        f"{decoder.image_space_.n_regions_} regions"
    )
    source = nib.load(load_sample_motor_activation_image())
    with warnings.catch_warnings():  # the demo says what it does instead
        warnings.simplefilter("ignore")
        img = decoder.image_space_.resample_to_grid(source)
    zooms = "x".join(f"{z:g}" for z in source.header.get_zooms()[:3])
    print(f"Map resampled from its {zooms} mm grid to the decoder's 2 mm grid.")
    args.level = "all"
    return _decode(
        decoder, img, args, "nilearn sample motor activation map (NeuroVault)"
    )


def _run_decode(args: argparse.Namespace) -> int:
    from brainlm_decode.decode.decoder import CLIPDecoder

    decoder = CLIPDecoder.from_pretrained(args.model)
    options = {"flip_sign": args.flip_sign, "percentile": args.percentile}
    if args.tail:
        options["tail"] = args.tail
    if args.concept_text_weight is not None:
        options["concept_text_weight"] = args.concept_text_weight
    decoder.set_params(**options)
    return _decode(decoder, args.map, args, Path(args.map).name)


def _run_train(args: argparse.Namespace) -> int:
    from brainlm_decode.decode.decoder import CLIPDecoder

    ontology = args.ontology
    if ontology is not None:  # a bad ontology fails now, not after the training
        ontology = CLIPDecoder(ontology=ontology)._load_ontology()
    decoder = CLIPDecoder(
        text_encoder=args.text_encoder,
        image_space=args.image_space,
        ontology=ontology,
        text_source=tuple(args.text_source.split(",")),
        n_epochs=args.n_epochs,
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


#: Python names in library messages -> the flags a CLI user typed.
_FLAGS = {
    "img": "MAP",
    "imgs": "MAP",
    "tail": "--tail",
    "flip_sign": "--flip-sign",
    "percentile": "--percentile",
    "concept_text_weight": "--concept-text-weight",
    "name_or_path": "--model",
    "text_encoder": "--text-encoder",
    "image_space": "--image-space",
    "text_source": "--text-source",
    "n_epochs": "--n-epochs",
    "device": "--device",
    "random_state": "--random-state",
    "ontology": "--ontology",
    "collection": "COLLECTION",
    "source": "COLLECTION",
}


def _flag_message(exc: BaseException) -> str:
    """One line from an exception, Python parameter names replaced by flags."""
    import re

    text = " ".join(str(exc).split()) or type(exc).__name__

    def replace(match: re.Match) -> str:
        flag = _FLAGS.get(match.group(2))
        return f"{match.group(1)}{flag}" if flag else match.group(0)

    text = re.sub(r"(The )'(\w+)' (?:argument|parameter)(?: of [\w.]+)?", replace, text)
    text = re.sub(r"\bflip_sign=True\b", "--flip-sign", text)
    text = re.sub(r"\boverwrite=True\b", "--overwrite", text)
    return re.sub(r"\b(tail|percentile)=(?:'(\w+)'|(\S+?))(?=[ ,).]|$)", _flag_kv, text)


def _flag_kv(match: Any) -> str:
    return f"--{match.group(1)} {match.group(2) or match.group(3)}"


def _check_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Checks that need several arguments or the plugin registry, before any work."""
    from brainlm_decode.plugins import GROUPS, list_plugins

    prog = f"{parser.prog} {args.command}"

    def fail(message: str) -> NoReturn:
        parser.exit(2, f"{prog}: error: {message} (see '{prog} --help')\n")

    if args.command == "train":
        out = Path(args.out)
        if out.exists() and not args.overwrite:
            fail(f"argument --out: {args.out!r} already exists; pass --overwrite")
        if out.is_dir() and not (out / "config.json").is_file() and any(out.iterdir()):
            fail(
                f"argument --out: {args.out!r} is a non-empty folder that holds no "
                "saved decoder; refusing to replace it"
            )
        for flag, group, value in (
            ("--text-encoder", "text_encoders", args.text_encoder),
            ("--image-space", "image_spaces", args.image_space),
        ):
            names = list_plugins(group)
            if value not in names:
                fail(f"argument {flag}: {value!r} is not one of {names}")
        if not all(args.text_source.split(",")):
            fail(
                "argument --text-source: expected comma-separated field names "
                f"such as 'title,abstract', got {args.text_source!r}"
            )
    if args.command == "decode" and args.model is not None:
        from brainlm_decode.decode.persistence import list_pretrained

        model = Path(args.model).expanduser()
        if model.is_file():
            fail(f"argument --model: {args.model!r} is a file, expected a folder")
        if not model.is_dir() and args.model not in list_pretrained():
            fail(
                f"argument --model: {args.model!r} is neither a folder nor one of "
                f"the packaged decoders {list_pretrained()}"
            )
    if args.command == "plugins" and args.group not in (None, *GROUPS):
        fail(f"argument group: {args.group!r} is not one of {sorted(GROUPS)}")


def _without_cyclic_gc(run: Any) -> Any:
    """``run`` with the cyclic garbage collector paused (the previous state restored).

    A one-map command spends most of its time importing scikit-learn, SciPy and
    pandas, during which the collector runs often and frees nothing (about 10 % of
    a cold ``decode``); reference counting still frees everything else.
    """
    import gc

    def wrapped(args: argparse.Namespace) -> int:
        enabled = gc.isenabled()
        gc.disable()
        try:
            return run(args)
        finally:
            if enabled:
                gc.enable()

    return wrapped


def _one_line_warning(message, category, filename, lineno, file=None, line=None):
    print(f"brainlm-decode: warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``brainlm-decode`` command.

    Returns
    -------
    int
        0 on success, 2 for a usage error (a bad flag, a missing input file, an
        output that exists), 1 for a data error (a map or a collection that cannot
        be decoded or trained on). Errors are one line naming the flag; pass
        ``--debug`` for the Python traceback.
    """
    import warnings

    from brainlm_decode._version import __version__
    from brainlm_decode.clip import cli_train

    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    parser = build_parser()
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}"
    )
    parser.add_argument(
        "--debug", action="store_true", help="show Python tracebacks on errors"
    )
    try:
        args = parser.parse_args(argv)
        _check_args(parser, args)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    runners = {
        "demo": _run_demo,
        "decode": _run_decode,
        "train": _run_train,
        "plugins": _run_plugins,
        "train-clip": cli_train.run,
        "decode-batch": lambda a: a.run(a),
        "serve": lambda a: a.run(a),
    }
    if args.command in ("decode", "demo"):  # one map: no cyclic GC while importing
        runners[args.command] = _without_cyclic_gc(runners[args.command])
    if debug:
        return runners[args.command](args)
    with warnings.catch_warnings():
        warnings.showwarning = _one_line_warning
        try:
            return runners[args.command](args)
        except KeyboardInterrupt:
            print(f"{parser.prog} {args.command}: interrupted", file=sys.stderr)
            return 130
        except Exception as exc:  # one line; the traceback with --debug
            print(
                f"{parser.prog} {args.command}: error: {_flag_message(exc)} "
                "(rerun with --debug for the traceback)",
                file=sys.stderr,
            )
            return 1


if __name__ == "__main__":
    sys.exit(main())
