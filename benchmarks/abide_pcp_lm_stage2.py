"""ABIDE-I PCP: cohort pretraining (Stage 1 and Stage 2) of the frozen-LM probe.

Companion of ``abide_pcp_lm_levers.py`` and ``abide_pcp_lm_lora.py`` (issue 17,
the pretraining levers). Same folds as the LoRA lever: held-out sites NYU,
UCLA_1, MAX_MUN, PITT (one fold each, the whole site tested); each fold trains
on ``--n-train`` subjects drawn from the 14 other sites (stratified on site x
diagnosis, seed 0), the same subjects for every row. Every row is the same
estimator (:class:`CohortPretrainedProbe`, below) on the same inputs, so the
paired differences isolate the lever:

- ``HCP tok.`` (reference): the shipped ``hcp-rest-networks`` tokenizer, no
  Stage 2; :class:`~brainlm_decode.FMRILMClassifier` ``head="probe"``
  (frozen Gemma-3-270M, 8 network channels x 5 patches = 40 fMRI tokens,
  scaler + balanced LR on the pooled hidden states, C by inner 3-fold CV);
- ``Stage 1 on training sites``: the shipped tokenizer's recipe
  (``pretrained_tokenizer_info("hcp-rest-networks")["params"]``) fitted on the
  fold's training series only (no labels, no held-out site), no Stage 2;
- ``Stage 2``: the HCP tokenizer, then ``--stage2-epochs`` epochs of Stage 2
  (F2F + F2T + T2T, weights 1 / 1 / 0.5, LoRA r=8 on Gemma's attention, the
  fMRI input module and head; :meth:`FMRILMClassifier.pretrain`) on the fold's
  training series, with F2T/T2T texts from
  :class:`~brainlm_decode.FMRIDescriptorTransformer` (connectivity, gradients,
  graph, ``top_k=1``, on the CC200 series) **fitted on the fold's training
  subjects only** (inductive, unlike the transductive context rows of
  ``abide_pcp_lm_levers.py``), cut to ``--max-text-tokens`` Gemma tokens; the
  probe then reads the Stage-2-adapted LM.

The fitted objects of each fold (tokenizer folder, Stage 2 adapter) are saved
under ``$BRAINLM_BENCH_CACHE/stage2/<row>/<site>`` and their sizes reported.
Statistics through the harness (``statistic="mean"`` over the 4 sites, no
permutations: 4 folds say little; read the per-site scores).

Run::

    OMP_NUM_THREADS=2 nice -n 10 python benchmarks/abide_pcp_lm_stage2.py
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

sys.path.insert(0, str(Path(__file__).resolve().parent))
import abide_pcp_lm_levers as levers
import abide_pcp_lm_lora as lora
import bench_abide_pcp as base
import bench_abide_pcp_lm as lm

ROWS = {
    "hcp": "fMRI-LM frozen, HCP tok. + LR (probe)",
    "stage1": "Stage 1 on training sites + probe",
    "stage2": "HCP tok. + Stage 2 on training sites + probe",
}


def _folder_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


class CohortPretrainedProbe(ClassifierMixin, BaseEstimator):
    """Frozen-LM probe after optional Stage 1 / Stage 2 on the training subjects.

    Reads dicts with ``"channels"`` (8 network series, 160 x 8) and
    ``"cc200"`` (the CC200 series, 160 x 200; descriptor texts for Stage 2).
    """

    def __init__(
        self,
        stage1: bool = False,
        stage2_epochs: int = 0,
        max_text_tokens: int = 64,
        save_dir: str | None = None,
    ) -> None:
        self.stage1 = stage1
        self.stage2_epochs = stage2_epochs
        self.max_text_tokens = max_text_tokens
        self.save_dir = save_dir

    def fit(self, X: list[dict[str, np.ndarray]], y: Any) -> CohortPretrainedProbe:
        from sklearn.frozen import FrozenEstimator

        from brainlm_decode import (
            FMRIDescriptorTransformer,
            FMRILMClassifier,
            FMRITokenizer,
        )
        from brainlm_decode.tokenizer.pretrained import (
            load_pretrained_tokenizer,
            pretrained_tokenizer_info,
        )

        channels = np.stack([x["channels"] for x in X])
        timing: dict[str, float] = {}
        start = time.perf_counter()
        if self.stage1:
            params = dict(pretrained_tokenizer_info("hcp-rest-networks")["params"])
            tok = FMRITokenizer(**params).fit(list(channels))
        else:
            tok = load_pretrained_tokenizer("hcp-rest-networks")
        timing["stage1_s"] = time.perf_counter() - start
        texts = None
        if self.stage2_epochs:
            start = time.perf_counter()
            cc200 = [x["cc200"] for x in X]
            descriptors = FMRIDescriptorTransformer(
                list(levers.CTX_FAMILIES),
                networks="cc200",
                top_k=levers.CTX_TOP_K,
                random_state=0,
            ).fit(cc200)
            texts = list(descriptors.to_text(cc200))
            timing["descriptors_s"] = time.perf_counter() - start
        self.clf_ = FMRILMClassifier(
            tokenizer=FrozenEstimator(tok),
            backbone="gemma-3-270m",
            token_layout="patch",
            head="probe",
            pretrain_epochs=self.stage2_epochs,
            max_text_tokens=self.max_text_tokens,
            class_weight="balanced",
            t_r=2.0,
            device="cpu",
            random_state=0,
            verbose=0,
        )
        start = time.perf_counter()
        self.clf_.fit(channels, y, texts=texts)
        timing["stage2_and_probe_s"] = time.perf_counter() - start
        self.timing_ = timing
        self.classes_ = self.clf_.classes_
        if self.save_dir is not None:
            self._save(tok)
        return self

    def _save(self, tok: Any) -> None:
        """Save the fold's fitted objects (tokenizer, Stage 2 adapter); sizes."""
        folder = Path(self.save_dir)
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        self.saved_mb_ = {}
        if self.stage1:
            tok.save(folder / "tokenizer")
            self.saved_mb_["tokenizer"] = _folder_mb(folder / "tokenizer")
        if self.stage2_epochs:
            self.clf_.save_adapter(folder / "adapter")
            self.saved_mb_["adapter"] = _folder_mb(folder / "adapter")
        (folder / "timing.json").write_text(
            json.dumps({"timing": self.timing_, "saved_mb": self.saved_mb_})
        )

    def predict_proba(self, X: list[dict[str, np.ndarray]]) -> np.ndarray:
        channels = np.stack([x["channels"] for x in X])
        return self.clf_.predict_proba(channels)

    def predict(self, X: list[dict[str, np.ndarray]]) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", default=",".join(lora.SITES))
    parser.add_argument("--n-train", type=int, default=160)
    parser.add_argument("--stage2-epochs", type=int, default=2)
    parser.add_argument("--max-text-tokens", type=int, default=64)
    parser.add_argument("--rows", default=",".join(ROWS))
    parser.add_argument("--n-bootstrap", type=int, default=10000)
    parser.add_argument("--out", default=str(base.RESULTS / "abide_pcp_lm_stage2"))
    args = parser.parse_args(argv)
    import torch

    from brainlm_decode.evaluation import compare_estimators
    from brainlm_decode.lm.features import network_series

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    start = time.perf_counter()
    data, targets = base.load(None)
    lm160 = base.lm_contract(data, 160)
    channels = network_series(lm160, "cc200")
    X = [
        {"channels": c, "cc200": s, "index": i}
        for i, (c, s) in enumerate(zip(channels, lm160, strict=True))
    ]
    sites = np.asarray(data.site)
    words = np.asarray(base.WORDS["diagnosis"])
    y = pd.Series(words[targets["diagnosis"].astype(int)], name="diagnosis")
    held_out = tuple(args.sites.split(","))
    save_root = lm.CACHE / "stage2"
    settings = {
        "hcp": {},
        "stage1": {"stage1": True},
        "stage2": {
            "stage2_epochs": args.stage2_epochs,
            "max_text_tokens": args.max_text_tokens,
        },
    }
    rows = args.rows.split(",")
    models = {
        ROWS[r]: SiteNamedSaver(
            root=save_root / r, sites=sites, held_out=held_out, **settings[r]
        )
        for r in rows
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = compare_estimators(
            models,
            X,
            y,
            cv=lora.SubsetSiteSplit(held_out, args.n_train),
            groups=sites,
            pos_label="autism",
            reference=ROWS[rows[0]],
            statistic="mean",
            n_bootstrap=args.n_bootstrap,
            n_permutations=0,
            random_state=0,
            verbose=1,
        )
    saved = {}
    for r in rows:
        for site in held_out:
            record = save_root / r / site / "timing.json"
            if record.is_file():
                saved[f"{r}/{site}"] = json.loads(record.read_text())
    cost_lines = []
    for key, record in saved.items():
        t = record["timing"]
        sizes = ", ".join(f"{k} {v:.2f} MB" for k, v in record["saved_mb"].items())
        cost_lines.append(
            f"| {key} | {t.get('stage1_s', 0):.0f} | {t.get('descriptors_s', 0):.0f}"
            f" | {t.get('stage2_and_probe_s', 0):.0f} | {sizes or '-'} |"
        )
    header = (
        f"# ABIDE-I PCP, cohort pretraining of the fMRI-LM probe, held-out sites "
        f"{', '.join(held_out)} ({args.n_train} training subjects per fold from "
        "the other 14 sites, the same for every row), diagnosis"
    )
    extra = [
        "## Cost per fold (s) and saved objects",
        "",
        "| row / held-out site | Stage 1 | descriptors | Stage 2 + probe | saved |",
        "|---|---|---|---|---|",
        *cost_lines,
        "",
        f"Stage 2: {args.stage2_epochs} epochs, texts cut to {args.max_text_tokens} "
        "Gemma tokens, batch 8, AdamW 5e-4 cosine to 5e-5, LoRA r=8.",
        "",
    ]
    lora.write_subset_results(
        Path(args.out),
        header,
        result,
        start,
        vars(args),
        extra_lines=extra,
        extra_json={"saved": saved},
    )


class SiteNamedSaver(CohortPretrainedProbe):
    """:class:`CohortPretrainedProbe` saving under ``<root>/<held-out site>``.

    The held-out site of a fold is the one site absent from its training
    subjects (found from the ``"index"`` of each input dict).
    """

    def __init__(
        self,
        root: Path | None = None,
        sites: np.ndarray | None = None,
        held_out: tuple[str, ...] = (),
        stage1: bool = False,
        stage2_epochs: int = 0,
        max_text_tokens: int = 64,
        save_dir: str | None = None,
    ) -> None:
        super().__init__(stage1, stage2_epochs, max_text_tokens, save_dir)
        self.root = root
        self.sites = sites
        self.held_out = held_out

    def fit(self, X: list[dict[str, np.ndarray]], y: Any) -> SiteNamedSaver:
        seen = set(self.sites[[x["index"] for x in X]])
        site = next(s for s in self.held_out if s not in seen)
        self.save_dir = str(Path(self.root) / site)
        return super().fit(X, y)


if __name__ == "__main__":
    main()
