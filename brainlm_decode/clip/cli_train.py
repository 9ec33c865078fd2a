"""The ``brainlm-decode train-clip`` subcommand: CLIP training, runnable under ``torchrun``.

One process::

    brainlm-decode train-clip --text text.npy --image image.npy --out model_dir

Several processes (DDP; gloo on CPU, NCCL on GPUs)::

    torchrun --nproc_per_node 2 -m brainlm_decode.cli train-clip \\
        --text text.npy --image image.npy --out model_dir --device cpu

``python -m brainlm_decode.clip.cli_train`` (the former separate command) runs the
same code.

Inputs are ``.npy`` files (``allow_pickle=False``). The main process writes the model
with :func:`~brainlm_decode.clip.serialization.save_clip`, the training record
(``history.json``) included, in ``--out``; an existing ``--out`` is replaced only
with ``--overwrite`` (checked before training).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["add_arguments", "build_parser", "main", "run"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m brainlm_decode.clip.cli_train``.

    Returns
    -------
    argparse.ArgumentParser
    """
    parser = argparse.ArgumentParser(
        prog="python -m brainlm_decode.clip.cli_train",
        description="Train NiCLIP's CLIP model on paired text/image embeddings.",
    )
    return add_arguments(parser)


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the arguments of ``train-clip`` to ``parser``.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        A parser or subparser.

    Returns
    -------
    argparse.ArgumentParser
        ``parser``.
    """
    parser.add_argument("--text", required=True, help="(n, text_dim) .npy file")
    parser.add_argument("--image", required=True, help="(n, image_dim) .npy file")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing saved model at --out (refused otherwise)",
    )
    parser.add_argument("--groups", help="(n,) .npy file of study ids")
    parser.add_argument("--val-text", help="validation text .npy (with --val-image)")
    parser.add_argument("--val-image", help="validation image .npy (with --val-text)")
    parser.add_argument("--validation-fraction", type=float, default=0.1)
    parser.add_argument("--embed-dim", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=128)
    from brainlm_decode.cli import RenamedFlag

    parser.add_argument("--learning-rate", type=float, default=5e-4)
    parser.add_argument(
        "--lr",
        dest="learning_rate",
        type=float,
        action=RenamedFlag,
        new="--learning-rate",
    )
    parser.add_argument("--weight-decay", type=float, default=0.1)
    parser.add_argument("--n-epochs", type=int, default=50)
    parser.add_argument(
        "--max-epochs", dest="n_epochs", type=int, action=RenamedFlag, new="--n-epochs"
    )
    parser.add_argument(
        "--patience", type=int, default=10, help="0 disables early stopping"
    )
    parser.add_argument("--dropout", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--verbose", type=int, default=0)
    return parser


def _load(path: str | None) -> np.ndarray | None:
    return None if path is None else np.load(path, allow_pickle=False)


def _validation(args: argparse.Namespace) -> tuple[Any, Any] | None:
    if (args.val_text is None) != (args.val_image is None):
        raise SystemExit("error: --val-text and --val-image go together")
    if args.val_text is None:
        return None
    return _load(args.val_text), _load(args.val_image)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, train, and (main process) save model and history.

    Parameters
    ----------
    argv : sequence of str or None, default=None
        Arguments; ``None`` reads ``sys.argv``.

    Returns
    -------
    int
        Exit status (0 on success).
    """
    return run(build_parser().parse_args(argv))


def run(args: argparse.Namespace) -> int:
    """Train and save the model described by parsed ``train-clip`` arguments.

    Parameters
    ----------
    args : argparse.Namespace
        Arguments parsed by a parser set up with :func:`add_arguments`.

    Returns
    -------
    int
        Exit status (0 on success).
    """
    from accelerate import Accelerator

    from brainlm_decode.base import resolve_device
    from brainlm_decode.clip.serialization import save_clip
    from brainlm_decode.clip.train import train_clip
    from brainlm_decode.persistence import check_save_path

    try:  # before any work: never train for an hour to fail at the save
        check_save_path(args.out, overwrite=args.overwrite, what="saved CLIPModel")
    except FileExistsError as exc:
        raise SystemExit(f"error: {exc}") from None
    accelerator = Accelerator(cpu=resolve_device(args.device).type == "cpu")
    model, history = train_clip(
        _load(args.text),
        _load(args.image),
        validation=_validation(args),
        validation_fraction=args.validation_fraction,
        groups=_load(args.groups),
        embed_dim=args.embed_dim,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        weight_decay=args.weight_decay,
        n_epochs=args.n_epochs,
        patience=args.patience or None,
        dropout=args.dropout,
        random_state=args.seed,
        verbose=args.verbose,
        accelerator=accelerator,
    )
    if accelerator.is_main_process:
        out = save_clip(
            model, args.out, overwrite=args.overwrite, history=history.to_dict()
        )
        print(
            f"saved CLIP model to {out} ({history.n_epochs} epochs on "
            f"{history.n_processes} process(es), best epoch {history.best_epoch + 1}, "
            f"validation loss {history.best_val_loss:.4f})",
            flush=True,
        )
    accelerator.wait_for_everyone()
    accelerator.end_training()
    return 0


if __name__ == "__main__":  # pragma: no cover - exercised through torchrun
    raise SystemExit(main())
