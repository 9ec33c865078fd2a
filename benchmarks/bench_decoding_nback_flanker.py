"""Benchmark: n-back vs flanker held-out decoding, the reference protocol (issue 10).

Data: NiMARE's bundled ``nback_vs_flanker_studyset_2026-07`` (906 analyses, label
``comparison_task``). Protocol, every method on the same splits:

- groups = ``study_id``, merging studies that share an analysis with an identical
  as-reported coordinate set (union-find);
- ``train_test_split`` of the groups, ``stratify`` = group label (majority label
  of its analyses), ``test_size=0.2``, seeds 0-4;
- each held-out analysis -> its MKDA map (r = 10 mm) -> method; score = n-back
  score minus flanker score; balanced accuracy (threshold 0) and ROC AUC, mean +-
  sd over the seeds.

Methods: the pretrained ``CLIPDecoder`` (log posterior of "n-back task" minus
"Eriksen flanker task"; also on held-out analyses whose study is not in
NeuroQuery, and on those whose study is in neither NeuroQuery nor Neurosynth v7,
its training corpora); ``CLIPDecoder`` fitted on each training split (title +
abstract, MiniLM, full Cognitive Atlas); NiMARE ``CorrelationDecoder``
(label features, ``frequency_threshold=0.5``, MKDAChi2; r(n-back) - r(flanker),
computed as its ``transform`` does, Pearson r of the masked map with each
feature map; checked against ``transform`` on a few maps); logistic regression on
MKDA maps averaged to a 6 mm grid (C by inner GroupKFold); logistic regression on
the number of foci.

Levers (chosen on VALIDATION only: 20 % of each training split's groups, same
stratification): prior uniform vs corpus, task text (name only / definition only
/ both / both plus the names of the concepts the task measures / a title-style
"An fMRI study of the <task>" prompt), pretrained + fitted ensemble, and a supervised logistic head on the
pretrained CLIP image embedding fitted on the training part. The lever with the
best validation balanced accuracy is then reported on the test splits.

Calibration: the fitted decoder is temperature-scaled on the validation maps
(true task n-back or flanker among all tasks) and ECE before/after is reported
on the test maps.

Run (needs ``../shared/data``; ~15 min on 2 busy cores)::

    OMP_NUM_THREADS=1 python benchmarks/bench_decoding_nback_flanker.py
"""

from __future__ import annotations

import argparse
import gzip
import importlib.resources
import json
import logging
import re
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
RESULTS = Path(__file__).resolve().parent / "results"
STUDYSET = "nback_vs_flanker_studyset_2026-07"
LABEL = "comparison_task"
TASKS = {"n-back": "n-back task", "flanker": "Eriksen flanker task"}
NQ_METADATA = "neuroquery/data-neuroquery_version-1_metadata.tsv.gz"
NS_METADATA = "neurosynth/data-neurosynth_version-7_metadata.tsv.gz"


# ------------------------------------------------------------------------ data
def merged_groups(coll: Any) -> pd.Series:
    """Study id per analysis, merging studies sharing an identical coordinate set."""
    study = coll.study_of
    parent = {s: s for s in study.unique()}

    def find(s: str) -> str:
        while parent[s] != s:
            parent[s] = parent[parent[s]]
            s = parent[s]
        return s

    coords = coll.coordinates
    keys = coords.groupby("id").apply(
        lambda t: tuple(
            sorted(zip(t["x"].round(2), t["y"].round(2), t["z"].round(2), strict=True))
        )
    )
    first: dict[tuple, str] = {}
    for analysis, key in keys.items():
        s = study[analysis]
        if key in first:
            parent[find(s)] = find(first[key])
        else:
            first[key] = s
    return study.map(find)


def load_data() -> dict:
    from brainlm_decode.collection import load_collection

    path = Path(str(importlib.resources.files("nimare") / "resources" / STUDYSET))
    coll = load_collection(path)
    labels = coll.annotations[LABEL]
    coords = coll.coordinates
    ids = [i for i in coll.ids if labels.get(i) in TASKS and i in set(coords["id"])]
    groups = merged_groups(coll).loc[ids]
    return {
        "path": path,
        "coll": coll,
        "ids": np.asarray(ids),
        "y": (labels.loc[ids] == "n-back").to_numpy(),
        "groups": groups.to_numpy(),
        "coords": coords[coords["id"].isin(ids)],
    }


def in_corpus(data: dict, metadata: str = NQ_METADATA) -> np.ndarray:
    """Per analysis: is its study in a corpus (PMID from the slug, or title)?

    ``metadata`` is the corpus's metadata table (columns ``id``, ``title``) under
    ``../shared/data``: NeuroQuery's by default, or Neurosynth's.
    """
    table = SHARED / metadata
    with gzip.open(table, "rt") as handle:
        nq = pd.read_csv(handle, sep="\t", usecols=["id", "title"])

    def norm(t: Any) -> str:
        return re.sub(r"[^a-z0-9]+", " ", str(t).lower()).strip()

    pmids = set(nq["id"].astype(str))
    titles = set(nq["title"].dropna().map(norm))
    meta = data["coll"].metadata
    slugs = (
        meta["slug"] if "slug" in meta else pd.Series(index=meta.index, dtype=object)
    )
    study_titles = data["coll"].texts("title", level="analysis")
    found = []
    for analysis in data["ids"]:
        match = re.match(r"^(\d{5,9})-", str(slugs.get(analysis, "")))
        title = study_titles.get(analysis)
        found.append(
            (bool(match) and match.group(1) in pmids)
            or (title is not None and norm(title) in titles)
        )
    return np.asarray(found)


def split(data: dict, index: np.ndarray, seed: int, test_size: float = 0.2):
    """Stratified split of the groups of ``index`` (analysis positions)."""
    from sklearn.model_selection import train_test_split

    groups = data["groups"][index]
    frame = pd.DataFrame({"g": groups, "y": data["y"][index]})
    glabel = frame.groupby("g")["y"].mean().round().astype(int)
    train_g, test_g = train_test_split(
        glabel.index.to_numpy(),
        test_size=test_size,
        stratify=glabel.to_numpy(),
        random_state=seed,
    )
    test_g = set(test_g)
    is_test = np.array([g in test_g for g in groups])
    return index[~is_test], index[is_test]


# --------------------------------------------------------------------- metrics
def score(diff: np.ndarray, y: np.ndarray) -> dict:
    from sklearn.metrics import roc_auc_score

    diff = np.asarray(diff, dtype=float)
    if not np.all(np.isfinite(diff)):  # e.g. r of an empty map: a tie (a failure)
        diff = np.nan_to_num(diff, nan=0.0, posinf=0.0, neginf=0.0)
    bacc = (np.mean(diff[y] > 0) + np.mean(diff[~y] < 0)) / 2
    return {"bacc": float(bacc), "auc": float(roc_auc_score(y, diff))}


# ------------------------------------------------------------------- features
def analysis_features(data: dict, space: Any) -> dict:
    """Projected MKDA embeddings, 6 mm pooled maps, masked maps, foci counts."""
    from scipy import sparse

    ids = list(data["ids"])
    coords = data["coords"]
    emb = space.transform_coordinates(coords, ids=ids)
    grid = space.grid_
    from brainlm_decode.imaging import prepare_coordinates

    foci = grid.index_foci(prepare_coordinates(coords), ids)
    maps, _ = grid.study_matrix(foci, 0, len(ids))
    mask = np.asanyarray(space.mask_img_.dataobj) > 0
    ijk = np.argwhere(mask)
    block = ijk // 3
    key = np.ravel_multi_index(block.T, tuple(block.max(axis=0) + 1))
    _, col = np.unique(key, return_inverse=True)
    pool = sparse.csr_array(
        (np.ones(len(col)), (np.arange(len(col)), col)), shape=(len(col), col.max() + 1)
    )
    sizes = np.asarray(pool.sum(axis=0)).ravel()
    pooled = (sparse.csr_array(maps) @ pool).toarray() / sizes
    n_foci = coords.groupby("id").size().reindex(ids).to_numpy()
    return {
        "emb": emb,
        "maps": sparse.csr_array(maps),
        "pooled": pooled,
        "n_foci": n_foci,
    }


def study_inputs(data: dict, decoder: Any) -> dict:
    """Text and image embeddings of every study (for per-split fitting), once."""
    coll = data["coll"]
    texts = coll.texts(("title", "abstract"), level="study")
    texts = texts[texts.fillna("").str.strip() != ""]
    coords = coll.coordinates.assign(id=lambda t: t["study_id"])
    with_peaks = set(coords["id"])
    studies = [s for s in texts.index if s in with_peaks]
    text = decoder._text_encoder().encode(list(texts.loc[studies]))
    image = decoder.image_space_.transform_coordinates(coords, ids=studies)
    return {"studies": np.asarray(studies), "text": text, "image": image}


# --------------------------------------------------------------------- methods
def clip_diff(decoder: Any, emb: np.ndarray, prior: Any = None) -> np.ndarray:
    """log P(n-back|A) - log P(flanker|A) (the prior enters as a constant)."""
    atlas = decoder.ontology_
    ids = list(atlas.task_ids)
    nb = ids.index(atlas.lookup_ids(TASKS["n-back"]))
    fl = ids.index(atlas.lookup_ids(TASKS["flanker"]))
    cos = decoder.decode_embeddings(emb)["similarity"]
    scale = decoder.logit_scale_ / getattr(decoder, "temperature_", 1.0)
    p = decoder.prior_ if prior is None else prior
    return scale * (cos[:, nb] - cos[:, fl]) + np.log(p[nb]) - np.log(p[fl])


def fit_clip(template: Any, inputs: dict, data: dict, train: np.ndarray, seed: int):
    from sklearn.base import clone

    train_studies = set(data["coll"].study_of.loc[data["ids"][train]])
    keep = np.array([s in train_studies for s in inputs["studies"]])
    decoder = clone(template).set_params(random_state=seed)
    return decoder.fit_embeddings(
        inputs["text"][keep],
        inputs["image"][keep],
        groups=inputs["studies"][keep],
        vocabulary_embeddings=template.vocabulary_embeddings_,
        image_space=template.image_space_,
    )


def correlation_diff(data: dict, feats: dict, train: np.ndarray, test: np.ndarray):
    """NiMARE CorrelationDecoder fitted on train analyses; r(n-back) - r(flanker)."""
    from nimare.decode import CorrelationDecoder
    from nimare.meta.cbma import MKDAChi2
    from nimare.studyset import Studyset

    ids = data["ids"]
    y = data["y"]
    frame = pd.DataFrame(
        {
            "id": ids[train],
            "task__nback": y[train].astype(float),
            "task__flanker": (~y[train]).astype(float),
        }
    )
    studyset = Studyset.from_parquet(data["path"])
    studyset = studyset.filter_study_ids(
        list(pd.unique(data["coll"].study_of.loc[ids[train]]))
    )
    studyset = studyset.with_annotations_df(frame, name="task", replace=True)
    decoder = CorrelationDecoder(
        feature_group="task",
        features=["nback", "flanker"],
        frequency_threshold=0.5,
        meta_estimator=MKDAChi2(),
        target_image="z_desc-association",
        n_cores=1,
    )
    decoder.fit(studyset)
    maps = decoder.results_.maps
    names = list(maps)
    nb = maps[[n for n in names if n.endswith("nback")][0]]
    fl = maps[[n for n in names if n.endswith("flanker")][0]]
    x = feats["maps"][test].toarray()

    def pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        a = a - a.mean(axis=1, keepdims=True)
        b = b - b.mean()
        return (a @ b) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b))

    return pearson(x, nb) - pearson(x, fl), decoder


def lr_diff(x: np.ndarray, y: np.ndarray, groups: np.ndarray, train, test) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, GroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = GridSearchCV(
        make_pipeline(
            StandardScaler(),
            LogisticRegression(class_weight="balanced", max_iter=2000),
        ),
        {"logisticregression__C": [1e-4, 1e-3, 1e-2, 1e-1, 1.0]},
        cv=GroupKFold(n_splits=5),
        scoring="balanced_accuracy",
    )
    model.fit(x[train], y[train], groups=groups[train])
    return model.decision_function(x[test])


# ------------------------------------------------------------------------ main
def summarise(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    agg = frame.groupby("method", sort=False).agg(
        bacc_mean=("bacc", "mean"),
        bacc_sd=("bacc", "std"),
        auc_mean=("auc", "mean"),
        auc_sd=("auc", "std"),
        n_seeds=("seed", "nunique"),
        n_maps=("n", "mean"),
    )
    return agg


def lever_scores(ctx: dict, fit_idx, eval_idx, seed: int) -> dict[str, np.ndarray]:
    """Pretrained/fitted variants on ``eval_idx`` (fitted on ``fit_idx`` only)."""
    from sklearn.linear_model import LogisticRegressionCV

    data, feats, pre = ctx["data"], ctx["feats"], ctx["pretrained"]
    emb = feats["emb"][eval_idx]
    uniform = np.full(pre.ontology_.n_tasks, 1.0 / pre.ontology_.n_tasks)
    out = {
        "pretrained (corpus prior, name+definition)": clip_diff(pre, emb),
        "pretrained, uniform prior": clip_diff(pre, emb, uniform),
    }
    default_task = pre.task_embeddings_
    for label, vocab in ctx["vocab_variants"].items():
        pre.task_embeddings_ = pre._encode_text(vocab)
        out[f"pretrained, {label}"] = clip_diff(pre, emb, uniform)
    pre.task_embeddings_ = default_task
    fitted = fit_clip(ctx["template"], ctx["inputs"], data, fit_idx, seed)
    out["fitted (corpus prior)"] = clip_diff(fitted, emb)
    out["fitted, uniform prior"] = clip_diff(fitted, emb, uniform)

    def z(v: np.ndarray) -> np.ndarray:
        return v / (np.std(v) + 1e-12)

    out["ensemble pretrained + fitted (uniform)"] = z(
        out["pretrained, uniform prior"]
    ) + z(out["fitted, uniform prior"])
    head = LogisticRegressionCV(Cs=8, class_weight="balanced", max_iter=3000)
    clip_img = pre._encode_image(feats["emb"].astype(np.float32))
    head.fit(clip_img[fit_idx], data["y"][fit_idx])
    out["supervised head on pretrained CLIP image embedding"] = head.decision_function(
        clip_img[eval_idx]
    )
    return out, fitted


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args(argv)
    if not (SHARED / "cognitive_atlas").is_dir():
        print(f"SKIP: {SHARED} is missing.")
        return 0
    warnings.filterwarnings("ignore")
    import nimare  # noqa: F401

    logging.getLogger().setLevel(logging.ERROR)
    from brainlm_decode import CLIPDecoder
    from brainlm_decode.decode.calibration import expected_calibration_error
    from brainlm_decode.ontology import load_cognitive_atlas_dump

    start = time.perf_counter()
    data = load_data()
    pretrained = CLIPDecoder.from_pretrained()
    feats = analysis_features(data, pretrained.image_space_)
    overlap = in_corpus(data)
    # the bundle is trained on NeuroQuery + Neurosynth v7 (--neurosynth add)
    seen = overlap | in_corpus(data, NS_METADATA)
    atlas = load_cognitive_atlas_dump(SHARED / "cognitive_atlas", on_invalid="ignore")
    template = CLIPDecoder(ontology=atlas, device="cpu")
    template.image_space_ = pretrained.image_space_
    vocab = template.embed_vocabulary(atlas)
    template.vocabulary_embeddings_ = vocab
    inputs = study_inputs(data, template)
    encoder = template._text_encoder()
    table = atlas.vocabulary("task")  # same task order as the bundle (checked)
    names = encoder.encode(list(table["name"]))
    defs = encoder.encode(list(table["definition"]))
    unit = lambda a: a / np.linalg.norm(a, axis=1, keepdims=True)  # noqa: E731
    # the concepts each task measures, as text (the task's name where it has none)
    links = atlas.task_concept_matrix.tocsr()
    concept_names = np.asarray(atlas.concept_names)
    measured = [
        "measures " + ", ".join(concept_names[links.indices[a:b]]) if b > a else name
        for name, a, b in zip(
            table["name"], links.indptr[:-1], links.indptr[1:], strict=True
        )
    ]
    concepts = encoder.encode(measured)
    titles = encoder.encode([f"An fMRI study of the {n}" for n in table["name"]])
    ctx = {
        "data": data,
        "feats": feats,
        "pretrained": pretrained,
        "template": template,
        "inputs": inputs,
        "vocab_variants": {
            "name only, uniform": unit(names).astype(np.float32),
            "definition only, uniform": unit(defs).astype(np.float32),
            "name + definition + measured concepts, uniform": unit(
                unit(names) + unit(defs) + unit(concepts)
            ).astype(np.float32),
            "title-style name ('An fMRI study of the ...'), uniform": unit(
                titles
            ).astype(np.float32),
        },
    }
    y, groups = data["y"], data["groups"]
    print(
        f"{len(y)} labelled analyses ({int(y.sum())} n-back), "
        f"{len(np.unique(data['coll'].study_of.loc[data['ids']]))} studies -> "
        f"{len(np.unique(groups))} merged groups; {int(overlap.sum())} analyses from "
        f"studies in NeuroQuery, {int(seen.sum())} in NeuroQuery or Neurosynth. "
        f"Setup {time.perf_counter() - start:.0f} s.",
        flush=True,
    )
    everything = np.arange(len(y))
    rows, val_rows, calib = [], [], []
    check = None
    for seed in range(args.seeds):
        train, test = split(data, everything, seed)
        inner_train, val = split(data, train, seed)
        # ---- levers on validation (fit on inner_train only)
        levers, fitted_inner = lever_scores(ctx, inner_train, val, seed)
        for name, diff in levers.items():
            val_rows.append(
                {"method": name, "seed": seed, "n": len(val), **score(diff, y[val])}
            )
        # ---- calibration of the fitted decoder on validation maps
        ids = list(atlas.task_ids)
        true = [atlas.lookup_ids(TASKS["n-back" if v else "flanker"]) for v in y]
        fitted = fit_clip(template, inputs, data, train, seed)
        fitted.calibrate(feats["emb"][val], [true[i] for i in val])
        test_post = fitted.decode_embeddings(feats["emb"][test])["posterior"]
        index = np.array([ids.index(true[i]) for i in test])
        fitted_t = fitted.temperature_
        fitted.temperature_ = 1.0
        raw_post = fitted.decode_embeddings(feats["emb"][test])["posterior"]
        fitted.temperature_ = fitted_t
        calib.append(
            {
                "seed": seed,
                "temperature": fitted_t,
                "ece_test_before": expected_calibration_error(raw_post, index),
                "ece_test_after": expected_calibration_error(test_post, index),
                "ece_val_before": fitted.calibration_["ece_before"],
                "ece_val_after": fitted.calibration_["ece_after"],
            }
        )
        fitted.temperature_ = 1.0
        # ---- reference protocol on test
        emb = feats["emb"][test]
        methods = {
            "CLIPDecoder pretrained": clip_diff(pretrained, emb),
            "CLIPDecoder fitted per split": clip_diff(fitted, emb),
        }
        corr, corr_decoder = correlation_diff(data, feats, train, test)
        methods["NiMARE CorrelationDecoder (MKDAChi2)"] = corr
        methods["LogReg on 6 mm MKDA maps (inner GroupKFold C)"] = lr_diff(
            feats["pooled"], y, groups, train, test
        )
        methods["LogReg on foci count"] = lr_diff(
            np.log1p(feats["n_foci"])[:, None].astype(float), y, groups, train, test
        )
        test_levers, _ = lever_scores(ctx, train, test, seed)
        for name, diff in test_levers.items():
            methods[f"lever: {name}"] = diff
        for name, diff in methods.items():
            rows.append(
                {"method": name, "seed": seed, "n": len(test), **score(diff, y[test])}
            )
        for unseen, label in (
            (~overlap, "studies not in NeuroQuery"),
            (~seen, "studies in neither NeuroQuery nor Neurosynth"),
        ):
            novel = test[unseen[test]]
            if y[novel].any() and (~y[novel]).any():
                rows.append(
                    {
                        "method": f"CLIPDecoder pretrained, {label}",
                        "seed": seed,
                        "n": len(novel),
                        **score(clip_diff(pretrained, feats["emb"][novel]), y[novel]),
                    }
                )
        if check is None:  # our Pearson r equals CorrelationDecoder.transform
            import nibabel as nib

            from brainlm_decode.imaging import mkda_map

            i = test[0]
            c = data["coords"][data["coords"]["id"] == data["ids"][i]]
            img = mkda_map(c[["x", "y", "z"]].to_numpy())
            img = nib.Nifti1Image(img.get_fdata(dtype=np.float32), img.affine)
            r = corr_decoder.transform(img)["r"]
            ref = (
                r[[k for k in r.index if k.endswith("nback")][0]]
                - r[[k for k in r.index if k.endswith("flanker")][0]]
            )
            check = abs(float(ref) - float(corr[0]))
        print(f"seed {seed} done, {time.perf_counter() - start:.0f} s", flush=True)

    test_table = summarise(rows)
    val_table = summarise(val_rows)
    calib_table = pd.DataFrame(calib)
    pd.set_option("display.width", 200)
    print("\nReference protocol, TEST splits (mean +- sd over seeds):")
    print(test_table.to_string(float_format="%.3f"))
    print("\nLevers on VALIDATION splits (choose here):")
    print(val_table.to_string(float_format="%.3f"))
    paired = pd.DataFrame(val_rows).pivot(index="seed", columns="method", values="bacc")
    default = "pretrained (corpus prior, name+definition)"
    delta = paired.sub(paired[default], axis=0).drop(columns=default)
    noise = pd.DataFrame(
        {
            "delta_bacc_mean": delta.mean(),
            "delta_bacc_sd": delta.std(),
            "beats_noise": delta.mean() > 2 * delta.std() / np.sqrt(len(delta)),
        }
    )
    print(f"\nValidation bacc minus {default!r}, paired by seed (beats noise: mean")
    print("> 2 standard errors):")
    print(noise.to_string(float_format="%.3f"))
    best = val_table["bacc_mean"].idxmax()
    print(f"\nBest lever on validation: {best!r}; its test row:")
    print(test_table.loc[[f"lever: {best}"]].to_string(float_format="%.3f"))
    print("\nCalibration of the fitted decoder (temperature on validation maps):")
    print(calib_table.to_string(float_format="%.3f"))
    print(f"|CorrelationDecoder.transform - our Pearson| on one map: {check:.2e}")
    print(f"Total {time.perf_counter() - start:.0f} s.")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "nback_flanker_protocol.json").write_text(
        json.dumps(
            {
                "test": test_table.reset_index().to_dict("records"),
                "validation": val_table.reset_index().to_dict("records"),
                "calibration": calib,
                "best_lever_on_validation": best,
                "per_seed": rows,
                "validation_per_seed": val_rows,
                "validation_paired_delta": noise.reset_index().to_dict("records"),
                "correlation_check": check,
            },
            indent=1,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
