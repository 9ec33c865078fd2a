"""Benchmark: decode held-out n-back and flanker maps, NiCLIP against NiMARE's decoders.

NiMARE ships a Studyset of 906 coordinate analyses (320 studies, with abstracts)
labelled ``comparison_task`` = ``"n-back"`` or ``"flanker"``. The studies are split
by study (70/30, seeded); every method is fitted on the training studies only and
decodes the **same** held-out maps: the MKDA map (10 mm binary spheres, NiMARE's
``MKDAKernel``) of each held-out labelled analysis, given as a NIfTI image.

Methods, side by side:

- ``CLIPDecoder.from_pretrained()``: the bundle shipped with the package (NeuroQuery
  + Cognitive Atlas). NeuroQuery may hold some of these studies; the overlap is
  measured (PMIDs from the Studyset slugs, else titles) and the pairwise accuracy is
  also reported on the held-out maps whose study is not in NeuroQuery.
- ``CLIPDecoder(ontology=<full Cognitive Atlas>)`` fitted on the training studies
  (text = title + abstract).
- ``nimare.decode.CorrelationDecoder`` (MKDAChi2, two features: n-back, flanker)
  fitted on the training analyses.
- GC-LDA (``nimare.annotate.gclda.GCLDAModel`` + ``gclda_decode_map``) fitted on
  the training studies' title + abstract word counts and peaks, with few topics and
  iterations so that it runs in minutes (the n-back spellings are normalised to the
  token ``nback`` first: NiMARE's stop list removes ``back``).

Reported: how often the n-back score beats the flanker score on n-back maps and the
reverse on flanker maps (ties count as failures), their mean (balanced accuracy,
chance 0.5), the ROC AUC of the score difference (independent of any prior), and
for the CLIP decoders the median rank of the true task among all Cognitive Atlas
tasks and decoding Recall@10. Then the pretrained decoder on nilearn's sample motor
map (top tasks, rank of the motor tasks), and fit / transform times.

Run (needs ``../shared/data`` for the Cognitive Atlas; skips cleanly without it;
about 10 minutes on 2 CPU cores)::

    python benchmarks/bench_decoding_nback_flanker.py [--gclda-iters 0 to skip GC-LDA]
"""

from __future__ import annotations

import argparse
import gc
import gzip
import importlib.resources
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
STUDYSET = "nback_vs_flanker_studyset_2026-07"
LABEL_COLUMN = "comparison_task"
CLASSES = ("n-back", "flanker")  # values of LABEL_COLUMN
TASKS = {"n-back": "n-back task", "flanker": "Eriksen flanker task"}
# Cognitive Atlas tasks counted as "n-back or working memory" in the lenient score.
WM_FAMILY = re.compile(r"(?:\bn|\bone)[- ]?back\b|working memory", re.IGNORECASE)
MOTOR = re.compile(r"motor|tapping|finger", re.IGNORECASE)
NBACK_SPELLINGS = re.compile(
    r"\b(?:n|[0-9]+|zero|one|two|three|four)\s*[- ]?\s*back\b", re.IGNORECASE
)
NQ_METADATA = "neuroquery/data-neuroquery_version-1_metadata.tsv.gz"


# ----------------------------------------------------------------------- helpers
class Timer:
    """Collect wall-clock seconds by (method, stage)."""

    def __init__(self) -> None:
        self.seconds: dict[tuple[str, str], float] = {}

    def __call__(self, method: str, stage: str) -> Any:
        timer = self

        class _Span:
            def __enter__(self) -> None:
                self.start = time.perf_counter()

            def __exit__(self, *exc: Any) -> None:
                timer.seconds[(method, stage)] = time.perf_counter() - self.start

        return _Span()

    def get(self, method: str, stage: str) -> float:
        return self.seconds.get((method, stage), float("nan"))


def _normalise_title(text: Any) -> str:
    return re.sub(r"[^a-z0-9]+", " ", str(text).lower()).strip()


def _pairwise(nback: np.ndarray, flanker: np.ndarray, is_nback: np.ndarray) -> dict:
    """Pairwise accuracies (ties are failures) and AUC of the score difference."""
    from sklearn.metrics import roc_auc_score

    diff = np.asarray(nback, dtype=float) - np.asarray(flanker, dtype=float)
    acc_nback = float(np.mean(diff[is_nback] > 0))
    acc_flanker = float(np.mean(diff[~is_nback] < 0))
    return {
        "nback_wins": acc_nback,
        "flanker_wins": acc_flanker,
        "balanced": (acc_nback + acc_flanker) / 2,
        "auc": float(roc_auc_score(is_nback, diff)),
    }


def _task_positions(decoder: Any) -> tuple[int, int, np.ndarray]:
    atlas = decoder.ontology_
    ids = list(atlas.task_ids)
    nback = ids.index(atlas.lookup_ids(TASKS["n-back"]))
    flanker = ids.index(atlas.lookup_ids(TASKS["flanker"]))
    family = np.flatnonzero([bool(WM_FAMILY.search(n)) for n in atlas.task_names])
    return nback, flanker, family


def _rank_scores(scores: np.ndarray, is_nback: np.ndarray, positions: tuple) -> dict:
    """Median rank of the true task, Recall@10 and its lenient (WM family) twin."""
    from brainlm_decode.metrics import decoding_recall_at_k

    nback, flanker, family = positions
    true = np.where(is_nback, nback, flanker)
    rows = np.arange(len(true))
    # rank of a task: 1 + other tasks scoring at least as high (ties pessimistic)
    ranks = (scores >= scores[rows, true][:, None]).sum(axis=1)
    best_family = (scores >= scores[:, family].max(axis=1)[:, None]).sum(axis=1)
    return {
        "rank_nback": float(np.median(ranks[is_nback])),
        "rank_flanker": float(np.median(ranks[~is_nback])),
        "recall10": decoding_recall_at_k(scores, list(true), k=10),
        "recall10_family": float(np.mean(np.where(is_nback, best_family, ranks) <= 10)),
    }


def _clip_scores(
    decoder: Any, posterior: np.ndarray, likelihood: np.ndarray, is_nback: np.ndarray
) -> dict:
    """Pairwise, lenient (WM family), rank and Recall@10 scores of a CLIP decoder."""
    positions = _task_positions(decoder)
    nback, flanker, family = positions
    out = _pairwise(
        np.log(posterior[:, nback]), np.log(posterior[:, flanker]), is_nback
    )
    out["likelihood"] = _pairwise(
        likelihood[:, nback], likelihood[:, flanker], is_nback
    )
    out["family"] = _pairwise(
        posterior[:, family].max(axis=1), posterior[:, flanker], is_nback
    )
    out.update(_rank_scores(posterior, is_nback, positions))
    out["likelihood"].update(_rank_scores(likelihood, is_nback, positions))
    out["n_tasks"] = posterior.shape[1]
    out["n_family"] = len(family)
    names = np.asarray(decoder.ontology_.task_names)
    prior_rank = (decoder.prior_[:, None] >= decoder.prior_[[nback, flanker]]).sum(0)
    out["diagnostics"] = {
        "prior_rank": dict(zip(CLASSES, prior_rank.tolist(), strict=True)),
        "prior_top": list(names[np.argsort(-decoder.prior_)[:5]]),
        **{
            f"{kind} {label}": list(names[np.argsort(-values[mask].mean(0))[:5]])
            for kind, values in (("posterior", posterior), ("likelihood", likelihood))
            for label, mask in (("n-back", is_nback), ("flanker", ~is_nback))
        },
    }
    return out


# ------------------------------------------------------------------ data loading
def load_split(args: argparse.Namespace) -> dict:
    """Collection, study-grouped split and the held-out labelled analyses."""
    from brainlm_decode.collection import load_collection

    path = importlib.resources.files("nimare") / "resources" / STUDYSET
    collection = load_collection(Path(str(path)))
    labels = collection.annotations[LABEL_COLUMN]
    unknown = sorted(set(labels.dropna()) - set(CLASSES))
    if unknown:
        raise SystemExit(f"Unexpected {LABEL_COLUMN} values {unknown}.")
    train, _, test = collection.split(
        test_size=args.test_size, validation_size=None, random_state=args.seed
    )
    coords = test.coordinates
    test_labels = test.annotations[LABEL_COLUMN]
    ids = [i for i in test.ids if test_labels[i] in CLASSES and i in set(coords["id"])]
    return {
        "path": Path(str(path)),
        "collection": collection,
        "train": train,
        "test": test,
        "ids": ids,
        "labels": test_labels.loc[ids].to_numpy(),
        "coords": coords[coords["id"].isin(ids)].reset_index(drop=True),
    }


def neuroquery_overlap(data: dict) -> np.ndarray:
    """Per held-out map: is its study in NeuroQuery (PMID from the slug, or title)?"""
    table = SHARED / NQ_METADATA
    if not table.is_file():
        return np.zeros(len(data["ids"]), dtype=bool)
    with gzip.open(table, "rt") as handle:
        nq = pd.read_csv(handle, sep="\t", usecols=["id", "title"])
    pmids = set(nq["id"].astype(str))
    titles = set(nq["title"].dropna().map(_normalise_title))
    test = data["test"]
    meta = test.metadata
    slugs = (
        meta["slug"] if "slug" in meta else pd.Series(index=meta.index, dtype=object)
    )
    study_titles = test.texts("title", level="analysis")
    found = []
    for analysis in data["ids"]:
        match = re.match(r"^(\d{5,9})-", str(slugs.get(analysis, "")))
        by_pmid = bool(match) and match.group(1) in pmids
        title = study_titles.get(analysis)
        by_title = title is not None and _normalise_title(title) in titles
        found.append(by_pmid or by_title)
    return np.asarray(found)


def heldout_images(data: dict) -> list:
    """Dense MKDA map (float32 NIfTI) of every held-out analysis."""
    import nibabel as nib

    from brainlm_decode.imaging import mkda_map

    groups = dict(tuple(data["coords"].groupby("id", sort=False)))
    images = []
    for analysis in data["ids"]:
        img = mkda_map(groups[analysis][["x", "y", "z"]])
        images.append(nib.Nifti1Image(img.get_fdata(dtype=np.float32), img.affine))
    return images


# ----------------------------------------------------------------------- methods
def run_clip(decoder: Any, images: list, data: dict, name: str, timer: Timer) -> dict:
    """Decode the held-out images with ``transform``; check the coordinate path."""
    with timer(name, "transform"):
        tables = decoder.transform(images, level="task")
    order = list(decoder.ontology_.task_ids)
    posterior = np.vstack(
        [t.set_index("id").loc[order, "posterior"].to_numpy() for t in tables]
    )
    likelihood = np.vstack(
        [t.set_index("id").loc[order, "likelihood"].to_numpy() for t in tables]
    )
    with timer(name, "transform_coords"):
        embeddings = decoder.image_space_.transform_coordinates(
            data["coords"], ids=data["ids"]
        )
        fast = decoder.decode_embeddings(embeddings)["posterior"]
    scores = _clip_scores(decoder, posterior, likelihood, data["labels"] == "n-back")
    scores["path_mismatch"] = float(np.max(np.abs(fast - posterior)))
    scores["posterior"] = posterior
    return scores


def run_correlation(data: dict, images: list, timer: Timer) -> dict:
    """NiMARE CorrelationDecoder (MKDAChi2) on two label features."""
    from nimare.decode import CorrelationDecoder
    from nimare.meta.cbma import MKDAChi2
    from nimare.studyset import Studyset

    train_ids = list(data["train"].ids)
    labels = data["train"].annotations[LABEL_COLUMN]
    frame = pd.DataFrame(
        {
            "id": train_ids,
            "task__nback": (labels.loc[train_ids] == "n-back").astype(float).to_numpy(),
            "task__flanker": (labels.loc[train_ids] == "flanker")
            .astype(float)
            .to_numpy(),
        }
    )
    studyset = Studyset.from_parquet(data["path"])
    studyset = studyset.filter_study_ids(list(data["train"].study_ids))
    studyset = studyset.with_annotations_df(frame, name="task", replace=True)
    decoder = CorrelationDecoder(
        feature_group="task",
        features=["nback", "flanker"],
        frequency_threshold=0.5,
        meta_estimator=MKDAChi2(),
        target_image="z_desc-association",
        n_cores=1,
    )
    with timer("CorrelationDecoder", "fit"):
        decoder.fit(studyset)
    with timer("CorrelationDecoder", "transform"):
        tables = [decoder.transform(img) for img in images]
    r = pd.concat([t["r"] for t in tables], axis=1).T.reset_index(drop=True)
    out = _pairwise(
        r["task__nback"].to_numpy(),
        r["task__flanker"].to_numpy(),
        data["labels"] == "n-back",
    )
    out["features"] = list(decoder.results_.maps)
    return out


def run_gclda(data: dict, images: list, args: argparse.Namespace, timer: Timer) -> dict:
    """GC-LDA topic model on training studies, decoded with gclda_decode_map."""
    from nimare.annotate.gclda import GCLDAModel
    from nimare.annotate.text import generate_counts
    from nimare.decode.continuous import gclda_decode_map

    train = data["train"]
    with timer("GC-LDA", "fit"):
        texts = train.texts(("title", "abstract"), level="study").dropna()
        texts = texts.map(lambda t: NBACK_SPELLINGS.sub("nback", t))
        text_df = pd.DataFrame(
            {"id": texts.index.astype(str), "abstract": texts.values}
        )
        counts = generate_counts(
            text_df,
            text_column="abstract",
            tfidf=False,
            min_df=args.gclda_min_df,
            max_df=0.5,
        )
        coords = train.coordinates
        coords = pd.DataFrame(
            {
                "id": coords["study_id"],
                "x": coords["x"],
                "y": coords["y"],
                "z": coords["z"],
            }
        )
        model = GCLDAModel(
            counts,
            coords,
            mask="mni152_2mm",
            n_topics=args.gclda_topics,
            n_regions=2,
            symmetric=True,
            seed_init=args.seed + 1,
        )
        model.fit(n_iters=args.gclda_iters, loglikely_freq=args.gclda_iters)
    missing = [w for w in ("nback", "flanker") if w not in model.vocabulary]
    if missing:
        return {"error": f"terms {missing} not in the GC-LDA vocabulary"}
    with timer("GC-LDA", "transform"):
        tables = [gclda_decode_map(model, img)[0]["Weight"] for img in images]
    weights = pd.concat(tables, axis=1).T.reset_index(drop=True)
    out = _pairwise(
        weights["nback"].to_numpy(),
        weights["flanker"].to_numpy(),
        data["labels"] == "n-back",
    )
    out["vocabulary"] = len(model.vocabulary)
    out["n_studies"] = len(model.ids)
    return out


def motor_report(decoder: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Top tasks and the ranks of motor tasks for nilearn's sample motor map."""
    from nilearn.datasets import load_sample_motor_activation_image

    table = decoder.transform(load_sample_motor_activation_image(), level="task")
    table = table.assign(rank=np.arange(1, len(table) + 1))
    motor = table[[bool(MOTOR.search(n)) for n in table.index]]
    return table.head(10), motor


# ----------------------------------------------------------------------- report
def _fmt(value: float, digits: int = 2) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def print_accuracy(results: dict, n_nback: int, n_flanker: int) -> None:
    print(
        f"\nPairwise decoding of {n_nback + n_flanker} held-out maps "
        f"({n_nback} n-back, {n_flanker} flanker); ties count as failures.\n"
        "  nb>fl: n-back score above flanker score on n-back maps; fl>nb: the reverse "
        "on flanker maps;\n  balanced: their mean (chance 0.50); AUC: of the score "
        "difference (prior-independent, chance 0.50)."
    )
    header = f"{'method':<44}{'nb>fl':>7}{'fl>nb':>7}{'balanced':>10}{'AUC':>7}"
    print(header)
    print("-" * len(header))
    for name, res in results.items():
        if "error" in res:
            print(f"{name:<44}  {res['error']}")
            continue
        rows = [(name, res)]
        if "likelihood" in res:
            rows.append(("  same, likelihood only (uniform prior)", res["likelihood"]))
            rows.append(
                (f"  same, best of {res['n_family']} n-back/WM tasks", res["family"])
            )
        if "no_overlap" in res:
            rows.append(
                (
                    f"  same, {res['no_overlap_n']} maps not in NeuroQuery",
                    res["no_overlap"],
                )
            )
        for label, r in rows:
            print(
                f"{label:<44}{_fmt(r['nback_wins']):>7}{_fmt(r['flanker_wins']):>7}"
                f"{_fmt(r['balanced']):>10}{_fmt(r['auc']):>7}"
            )


def print_ranks(results: dict) -> None:
    clip = {k: v for k, v in results.items() if "rank_nback" in v}
    if not clip:
        return
    n_tasks = next(iter(clip.values()))["n_tasks"]
    print(
        f"\nRank of the true Cognitive Atlas task among {n_tasks} (median, ties "
        f"pessimistic) and decoding Recall@10 (chance {10 / n_tasks:.3f})"
    )
    header = (
        f"{'method':<44}{'n-back':>8}{'flanker':>9}{'R@10':>7}{'R@10 WM-family':>16}"
    )
    print(header)
    print("-" * len(header))
    for name, res in clip.items():
        for label, r in ((name, res), ("  same, likelihood only", res["likelihood"])):
            print(
                f"{label:<44}{r['rank_nback']:>8.0f}{r['rank_flanker']:>9.0f}"
                f"{r['recall10']:>7.3f}{r['recall10_family']:>16.3f}"
            )
    for name, res in clip.items():
        diag = res["diagnostics"]
        print(
            f"\n{name}: prior rank of 'n-back task' {diag['prior_rank']['n-back']}, "
            f"of 'Eriksen flanker task' {diag['prior_rank']['flanker']}; highest "
            f"priors: {', '.join(diag['prior_top'])}"
        )
        for key, tasks in diag.items():
            if key.startswith(("posterior", "likelihood")):
                print(f"  top-5 mean {key} maps: {', '.join(tasks)}")


def print_timings(timer: Timer, n_maps: int, reference: str) -> None:
    methods = list(dict.fromkeys(m for m, _ in timer.seconds))
    print(
        f"\nTimings (wall clock, seconds; transform = decoding the {n_maps} held-out "
        f"NIfTI maps one\nlist call for CLIP, one call per map for NiMARE; ratios "
        f"relative to {reference})"
    )
    header = (
        f"{'method':<44}{'fit/load':>10}{'x':>7}{'transform':>11}{'x':>7}{'ms/map':>8}"
    )
    print(header)
    print("-" * len(header))
    ref_fit, ref_tr = timer.get(reference, "fit"), timer.get(reference, "transform")
    for name in methods:
        fit = timer.get(name, "fit")
        if not np.isfinite(fit):
            fit = timer.get(name, "load")
        tr = timer.get(name, "transform")
        print(
            f"{name:<44}{_fmt(fit, 1):>10}{_fmt(fit / ref_fit):>7}{_fmt(tr, 2):>11}"
            f"{_fmt(tr / ref_tr):>7}{_fmt(1000 * tr / n_maps, 1):>8}"
        )
        fast = timer.get(name, "transform_coords")
        if np.isfinite(fast):
            print(
                f"{'  same, from coordinates (image space)':<44}{'':>10}{'':>7}"
                f"{_fmt(fast, 2):>11}{_fmt(fast / ref_tr):>7}"
                f"{_fmt(1000 * fast / n_maps, 1):>8}"
            )


# -------------------------------------------------------------------------- main
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--test-size", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-epochs", type=int, default=50)
    parser.add_argument("--gclda-topics", type=int, default=20)
    parser.add_argument(
        "--gclda-iters",
        type=int,
        default=500,
        help="GC-LDA sampling iterations; 0 skips GC-LDA",
    )
    parser.add_argument("--gclda-min-df", type=int, default=5)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    atlas_dir = SHARED / "cognitive_atlas"
    if not atlas_dir.is_dir():
        print(f"SKIP: {atlas_dir} is missing (needs ../shared/data); nothing to do.")
        return 0
    warnings.filterwarnings("ignore")  # NiMARE/nilearn/atlas chatter
    import nimare  # noqa: F401  (configures the root logger at INFO on import)

    logging.getLogger().setLevel(logging.WARNING)
    from brainlm_decode import CLIPDecoder
    from brainlm_decode.ontology import load_cognitive_atlas_dump

    timer = Timer()
    start = time.perf_counter()
    data = load_split(args)
    is_nback = data["labels"] == "n-back"
    print(
        f"Studyset {data['collection'].name!r}: {len(data['collection'].study_ids)} "
        f"studies, {len(data['collection'])} analyses.\nSplit by study "
        f"(test_size={args.test_size}, random_state={args.seed}): train "
        f"{len(data['train'].study_ids)} studies / {len(data['train'])} analyses; "
        f"held out {len(data['test'].study_ids)} studies -> {len(data['ids'])} "
        f"labelled maps ({int(is_nback.sum())} n-back, {int((~is_nback).sum())} "
        "flanker)."
    )
    overlap = neuroquery_overlap(data)
    print(
        f"NeuroQuery overlap: {int(overlap.sum())}/{len(overlap)} held-out maps come "
        "from studies also in NeuroQuery (PMID or title), which the pretrained bundle "
        "may have been trained on (all but 1,000 random NeuroQuery studies)."
    )
    with timer("MKDA maps (shared input)", "transform"):
        images = heldout_images(data)

    results: dict[str, dict] = {}
    atlas = load_cognitive_atlas_dump(atlas_dir, on_invalid="ignore")

    name = "CLIPDecoder.from_pretrained (NeuroQuery)"
    with timer(name, "load"):
        pretrained = CLIPDecoder.from_pretrained()
    results[name] = run_clip(pretrained, images, data, name, timer)
    keep = ~overlap
    if keep.any() and (keep & is_nback).any() and (keep & ~is_nback).any():
        nb, fl, _ = _task_positions(pretrained)
        post = results[name]["posterior"][keep]
        results[name]["no_overlap"] = _pairwise(
            np.log(post[:, nb]), np.log(post[:, fl]), is_nback[keep]
        )
        results[name]["no_overlap_n"] = int(keep.sum())

    name = "CLIPDecoder fitted on train studies"
    fitted = CLIPDecoder(
        ontology=atlas,
        max_epochs=args.max_epochs,
        device="cpu",
        random_state=args.seed,
    )
    with timer(name, "fit"):
        fitted.fit(data["train"])
    results[name] = run_clip(fitted, images, data, name, timer)
    history = fitted.history_
    print(
        f"Fitted CLIPDecoder: {fitted.n_studies_} studies, best epoch "
        f"{history.get('best_epoch')}, logit scale {fitted.logit_scale_:.2f}."
    )

    gc_start = time.perf_counter()
    gc.collect()
    gc_seconds = time.perf_counter() - gc_start
    name = "CorrelationDecoder (MKDAChi2, 2 features)"
    results[name] = run_correlation(data, images, timer)

    name = (
        f"GC-LDA ({args.gclda_topics} topics, {args.gclda_iters} iters)"
        if args.gclda_iters > 0
        else "GC-LDA"
    )
    if args.gclda_iters > 0:
        try:
            results[name] = run_gclda(data, images, args, timer)
        except Exception as exc:  # report, do not hide, why it could not run
            results[name] = {"error": f"failed: {type(exc).__name__}: {exc}"}
    else:
        results[name] = {"error": "skipped (--gclda-iters 0)"}

    print_accuracy(results, int(is_nback.sum()), int((~is_nback).sum()))
    gclda = results.get(name, {})
    if "vocabulary" in gclda:
        print(
            f"  GC-LDA scores: word weights of 'nback' vs 'flanker' "
            f"({gclda['vocabulary']} terms, {gclda['n_studies']} studies)."
        )
    print_ranks(results)
    for method, res in results.items():
        if "path_mismatch" in res:
            print(
                f"  {method}: max |posterior(NIfTI map) - posterior(coordinates)| = "
                f"{res['path_mismatch']:.2e}"
            )

    top, motor = motor_report(pretrained)
    print("\nPretrained decoder on nilearn's sample motor activation map: top 10 tasks")
    print(
        top[["rank", "posterior", "likelihood", "prior"]].to_string(float_format="%.4f")
    )
    print(
        f"Motor tasks (names matching {MOTOR.pattern!r}), rank among {len(atlas.task_ids)}:"
    )
    print(motor[["rank", "posterior"]].to_string(float_format="%.4f"))

    print_timings(timer, len(images), reference="CLIPDecoder fitted on train studies")
    print(
        f"  NiMARE's per-map cost is mostly nilearn's safe_get_data, which forces a "
        f"gc.collect() on every image\n  read ({gc_seconds:.2f} s each in this process; "
        f"{len(gc.get_objects())} tracked objects, most from importing NiMARE)."
    )
    print(f"\nTotal wall time {time.perf_counter() - start:.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
