"""Saving and loading what fMRI-LM training changes (adapters, fMRI modules).

An adapter folder holds

- ``adapter/``: the peft LoRA adapter (``adapter_config.json`` and
  ``adapter_model.safetensors``, loadable by peft itself), or ``lm/`` with the
  whole fine-tuned LM (``lora=False``);
- ``fmri_modules.safetensors``: the fMRI input module and fMRI head;
- ``config.json``: format version, backbone id, token layout, targets, classes,
  answers, LoRA settings, and the regressor's bins and probe (``probe.npz``);
- ``probes.npz``: the logistic probes of a ``head="probe"`` classifier (scaler
  statistics, coefficients, intercepts, one set per target; plain arrays, no
  pickle), with their classes and ``C`` in ``config.json``. With
  ``pretrain_epochs > 0`` the adapter holds the Stage 2 weights the probes
  read; without, the LoRA adapter is at its initialisation (the LM unchanged);
- ``manifest.json``: the SHA-256 of every file.

The backbone's own weights, the tokenizer and the descriptors are not copied:
they are loaded from the estimator's parameters (save a fitted tokenizer with
:meth:`FMRITokenizer.save`). Folders are written atomically and checked on load
by the one persistence layer (:mod:`brainlm_decode.persistence`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from brainlm_decode import persistence

__all__ = ["load_adapter", "save_adapter"]

FORMAT_NAME = "brainlm_decode.fmri_lm_adapter"
FORMAT_VERSION = 1
_MODULES = "fmri_modules.safetensors"
_PROBES = "probes.npz"


def _jsonable(values: Any) -> list[Any]:
    return [
        v.item() if isinstance(v, np.generic) else v
        for v in np.asarray(values).tolist()
    ]


def _fitted_config(estimator: Any) -> dict[str, Any]:
    from brainlm_decode._version import __version__

    config: dict[str, Any] = {
        "library_version": __version__,
        "estimator": type(estimator).__name__,
        "backbone": estimator.backbone_.model_id,
        "layout": estimator.layout_.to_dict(),
        "lora": estimator.lora_config_,
        "tokenizer": {
            "n_rois": int(estimator.tokenizer_.n_rois_),
            "n_patches": int(estimator.tokenizer_.n_patches_),
            "embed_dim": int(estimator.tokenizer_.embed_dim_),
            "codebook_size": int(estimator.tokenizer_.codebook_size_),
        },
        "targets": list(getattr(estimator, "targets_", [])),
        "classes": {
            name: _jsonable(classes)
            for name, classes in getattr(estimator, "classes_per_target_", {}).items()
        },
        "answers": dict(getattr(estimator, "answers_", {})),
        "attribute_columns": getattr(estimator, "attribute_columns_", None),
        "scale": float(estimator.model_.input_module.scale),
    }
    if hasattr(estimator, "bin_edges_"):
        config["regression"] = {
            "target_name": estimator.target_name_,
            "bin_edges": _jsonable(estimator.bin_edges_),
        }
    return config


def save_adapter(
    estimator: Any, path: str | os.PathLike, *, overwrite: bool = False
) -> Path:
    """Save a fitted fMRI-LM estimator's trained parts to a folder.

    Parameters
    ----------
    estimator : FMRILMClassifier or FMRILMRegressor
        A fitted (or pretrained) estimator.
    path : str or path-like
        Destination folder.
    overwrite : bool, default=False
        Replace an existing saved adapter (atomically, once the new one is
        complete).

    Returns
    -------
    pathlib.Path
        The folder.
    """
    from safetensors.torch import save_file

    estimator._check_fitted()
    probes = getattr(estimator, "probes_", None) or {}
    model = estimator.model_
    modules = {
        **{f"input_module.{k}": v for k, v in model.input_module.state_dict().items()},
        **{f"fmri_head.{k}": v for k, v in model.fmri_head.state_dict().items()},
    }
    modules = {k: v.detach().cpu().contiguous().clone() for k, v in modules.items()}

    def write(folder: Path) -> dict[str, Any]:
        if model.is_lora:
            model.lm.save_pretrained(str(folder / "adapter"))
        else:
            model.hf_model.save_pretrained(str(folder / "lm"))
        save_file(modules, str(folder / _MODULES), metadata={"format": "pt"})
        if hasattr(estimator, "probe_"):
            _save_probe(estimator.probe_, folder / "probe.npz")
        config = _fitted_config(estimator)
        if probes:
            config["probes"] = _save_probes(probes, folder / _PROBES)
        return config

    return persistence.save_folder(
        path,
        write,
        format_name=FORMAT_NAME,
        format_version=FORMAT_VERSION,
        overwrite=overwrite,
        what="saved fMRI-LM adapter",
    )


def _read(folder: Path) -> dict[str, Any]:
    return persistence.load_folder(
        folder,
        format_name=FORMAT_NAME,
        supported=FORMAT_VERSION,
        what="fMRI-LM adapter (written by save_adapter)",
    )


def _check_tokenizer(estimator: Any, saved: dict[str, Any]) -> None:
    tok = estimator.tokenizer_
    found = {
        "n_rois": int(tok.n_rois_),
        "n_patches": int(tok.n_patches_),
        "embed_dim": int(tok.embed_dim_),
        "codebook_size": int(tok.codebook_size_),
    }
    if found != saved:
        raise ValueError(
            f"The 'tokenizer' of {type(estimator).__name__} does not match the "
            f"adapter's: adapter {saved}, tokenizer {found}. Pass the fitted "
            "tokenizer the adapter was trained with."
        )


def _load_weights(estimator: Any, folder: Path, config: dict[str, Any]) -> None:
    import torch
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    model = estimator.model_
    if config["lora"] is not None:
        weights = load_file(str(folder / "adapter" / "adapter_model.safetensors"))
        set_peft_model_state_dict(model.lm, weights)
    else:
        from transformers import AutoModelForCausalLM

        lm = AutoModelForCausalLM.from_pretrained(str(folder / "lm"))
        model.lm.load_state_dict(lm.state_dict())
    modules = load_file(str(folder / _MODULES))
    with torch.no_grad():
        model.input_module.load_state_dict(
            {k[13:]: v for k, v in modules.items() if k.startswith("input_module.")}
        )
        model.fmri_head.load_state_dict(
            {k[10:]: v for k, v in modules.items() if k.startswith("fmri_head.")}
        )
    model.eval()


def load_adapter(estimator: Any, path: str | os.PathLike) -> Any:
    """Make an estimator fitted from a saved adapter (see :func:`save_adapter`).

    Parameters
    ----------
    estimator : FMRILMClassifier or FMRILMRegressor
        Estimator whose ``tokenizer`` parameter is the fitted tokenizer of the
        adapter and whose ``backbone`` is the adapter's backbone.
    path : str or path-like
        Adapter folder.

    Returns
    -------
    estimator
        Fitted in place.
    """
    from brainlm_decode.lm.core import _is_fitted
    from brainlm_decode.lm.fmri_input import TokenLayout
    from brainlm_decode.training.runtime import make_accelerator

    folder = Path(path)
    config = _read(folder)
    estimator._validate_params()
    if estimator.tokenizer is None or not _is_fitted(estimator.tokenizer):
        raise ValueError(
            f"{type(estimator).__name__}.load_adapter needs the fitted tokenizer of "
            "the adapter as the 'tokenizer' parameter."
        )
    estimator.tokenizer_ = estimator.tokenizer
    _check_tokenizer(estimator, config["tokenizer"])
    estimator.descriptors_ = estimator.descriptors
    saved_head = "probe" if "probes" in config else "answer"
    if "regression" not in config and getattr(estimator, "head", None) != saved_head:
        raise ValueError(
            f"The adapter at {str(folder)!r} was saved from a head={saved_head!r} "
            f"{config.get('estimator', 'estimator')}; this estimator has "
            f"head={getattr(estimator, 'head', None)!r}. Load it into one with "
            f"head={saved_head!r}."
        )
    estimator._restore_layout(TokenLayout.from_dict(config["layout"]))
    accelerator = make_accelerator(
        estimator.device, owner=f"{type(estimator).__name__}.load_adapter"
    )
    estimator._setup_model(accelerator, 0, lora=config["lora"] or False)
    if estimator.backbone_.model_id != config["backbone"]:
        raise ValueError(
            f"The adapter at {str(folder)!r} was trained on backbone "
            f"{config['backbone']!r}; this estimator's backbone is "
            f"{estimator.backbone_.model_id!r}."
        )
    _load_weights(estimator, folder, config)
    _restore_targets(estimator, folder, config)
    return estimator


def _restore_targets(estimator: Any, folder: Path, config: dict[str, Any]) -> None:
    estimator.targets_ = list(config["targets"])
    estimator.classes_per_target_ = {
        name: np.asarray(values) for name, values in config["classes"].items()
    }
    estimator.answers_ = {k: list(v) for k, v in config["answers"].items()}
    estimator.attribute_columns_ = config.get("attribute_columns")
    estimator.history_ = {}
    classes = [estimator.classes_per_target_[t] for t in estimator.targets_]
    if "regression" in config:
        estimator.target_name_ = config["regression"]["target_name"]
        estimator.bin_edges_ = np.asarray(config["regression"]["bin_edges"])
        estimator.probe_ = _load_probe(folder / "probe.npz")
    elif classes:
        estimator.classes_ = classes[0] if len(classes) == 1 else classes
    if "probes" in config:
        estimator.probes_ = _load_probes(config["probes"], folder / _PROBES)


def _save_probes(probes: dict[str, Any], path: Path) -> list[dict[str, Any]]:
    """The classifier's logistic probes as plain arrays; their JSON settings."""
    arrays: dict[str, np.ndarray] = {}
    settings = []
    for i, (name, probe) in enumerate(probes.items()):
        scaler, model = probe[0], probe[-1]
        model = getattr(model, "best_estimator_", model)  # C chosen by inner CV
        arrays[f"{i}_mean"] = scaler.mean_
        arrays[f"{i}_scale"] = scaler.scale_
        arrays[f"{i}_coef"] = model.coef_
        arrays[f"{i}_intercept"] = model.intercept_
        settings.append(
            {
                "target": name,
                "classes": _jsonable(model.classes_),
                "C": float(model.C),
                "class_weight": model.class_weight,
            }
        )
    np.savez(path, **arrays)
    return settings


def _load_probes(settings: list[dict[str, Any]], path: Path) -> dict[str, Any]:
    """Fitted StandardScaler + LogisticRegression pipelines from ``probes.npz``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    probes = {}
    with np.load(path) as data:
        for i, entry in enumerate(settings):
            scaler = StandardScaler()
            scaler.mean_, scaler.scale_ = data[f"{i}_mean"], data[f"{i}_scale"]
            scaler.var_ = scaler.scale_**2
            scaler.n_features_in_ = int(scaler.mean_.shape[0])
            scaler.n_samples_seen_ = 0
            model = LogisticRegression(
                C=entry["C"], class_weight=entry["class_weight"], max_iter=2000
            )
            model.coef_, model.intercept_ = data[f"{i}_coef"], data[f"{i}_intercept"]
            model.classes_ = np.asarray(entry["classes"])
            model.n_features_in_ = scaler.n_features_in_
            probes[entry["target"]] = make_pipeline(scaler, model)
    return probes


def _save_probe(probe: Any, path: Path) -> None:
    """StandardScaler + ridge as plain arrays (no pickle)."""
    scaler, ridge = probe[0], probe[-1]
    np.savez(
        path,
        mean=scaler.mean_,
        scale=scaler.scale_,
        coef=np.asarray(ridge.coef_),
        intercept=np.asarray(ridge.intercept_),
        alpha=np.asarray(getattr(ridge, "alpha_", getattr(ridge, "alpha", 1.0))),
    )


def _load_probe(path: Path) -> Any:
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    with np.load(path) as data:
        scaler = StandardScaler()
        scaler.mean_, scaler.scale_ = data["mean"], data["scale"]
        scaler.var_ = data["scale"] ** 2
        scaler.n_features_in_ = int(data["mean"].shape[0])
        scaler.n_samples_seen_ = 0
        ridge = Ridge(alpha=float(data["alpha"]))
        ridge.coef_, ridge.intercept_ = data["coef"], data["intercept"][()]
        ridge.n_features_in_ = scaler.n_features_in_
    return make_pipeline(scaler, ridge)
