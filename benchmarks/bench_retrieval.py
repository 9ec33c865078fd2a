"""Held-out retrieval of NiCLIP training variants (NeuroQuery, + Neurosynth).

The test split is the one of ``scripts/build_pretrained.py`` (first 1,000 studies of a
``RandomState(0)`` permutation of the NeuroQuery studies with peaks in the
``mni-parcels`` space), fixed so that versions compare. The next 1,000 studies of the
same permutation are a **validation** split carved from the builder's training part:
every variant is trained on the remaining studies (plus, for the Neurosynth variants,
the Neurosynth v7 studies that are not in the test or validation splits) with several
seeds, and scored by Recall@10 of the true text among the 1,000 validation texts.
The variant with the best mean validation Recall@10 is chosen, and only then are the
baseline and the chosen variant scored on the test split, in the same run.

``peak-aug3`` variants add three augmented copies of each NeuroQuery training
study (peaks dropped with probability 0.2, one always kept, the others jittered by
2 mm per axis; same text, same group so that copies never straddle the early-stopping
split).

Text and image embeddings are cached (``--cache-dir``), so variants and reruns do not
recompute them. Needs ``../shared/data``.

Usage::

    nice -n 10 env OMP_NUM_THREADS=2 python benchmarks/bench_retrieval.py \
        [--variants base,ns,...] [--seeds 0 1 2] [--out benchmarks/results/retrieval]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import build_pretrained as bp  # noqa: E402

N_VAL = 1000


@dataclass(frozen=True)
class Variant:
    """One training setting: corpus, NeuroQuery text, image space, hyper-parameters."""

    name: str
    neurosynth: str = "none"  # "none", "add" (new studies), "merge" (+ merged texts)
    nq_text: str = "base"  # "base" (builder) or "rich" (title + keywords + terms)
    space: str = "mni-parcels"  # or "schaefer400-tian"
    train: dict = field(default_factory=dict)  # extra train_clip arguments
    augment: int = 0  # augmented copies of each NeuroQuery training study's peaks


VARIANTS = {
    v.name: v
    for v in [
        Variant("base"),
        Variant("ns-add", neurosynth="add"),
        Variant("ns-merge", neurosynth="merge"),
        Variant("nq-rich", nq_text="rich"),
        Variant("schaefer", space="schaefer400-tian"),
        Variant("ns-merge-schaefer", neurosynth="merge", space="schaefer400-tian"),
        Variant("lr1e-4", train={"learning_rate": 1e-4}),
        Variant("peak-aug3", augment=3),
        Variant("ns-add-peak-aug3", neurosynth="add", augment=3),
        Variant("lr2e-4", train={"learning_rate": 2e-4}),
        Variant("dropout07", train={"dropout": 0.7}),
        Variant("dim256", train={"embed_dim": 256}),
        Variant("ns-add-dim256", neurosynth="add", train={"embed_dim": 256}),
        Variant("ns-add-p256", neurosynth="add", space="mni-parcels-256"),
        Variant("ns-add-p1024", neurosynth="add", space="mni-parcels-1024"),
        Variant("ns-add-dim1024", neurosynth="add", train={"embed_dim": 1024}),
        Variant("batch512", train={"batch_size": 512}),
        Variant("ns-merge-lr1e-4", neurosynth="merge", train={"learning_rate": 1e-4}),
        Variant(
            "ns-merge-schaefer-lr1e-4",
            neurosynth="merge",
            space="schaefer400-tian",
            train={"learning_rate": 1e-4},
        ),
    ]
}


# ------------------------------------------------------------------------- corpora


def nq_rich_texts(folder: Path) -> list[str]:
    """Title, keyword terms, then all terms ordered by a weighted count.

    Weight = 3 x title count + 3 x keyword count + abstract count, so terms of the
    title and keywords come first and frequent abstract terms before rare ones.
    """
    meta = pd.read_csv(folder / f"{bp.PREFIX}metadata.tsv.gz", sep="\t")
    vocab = (folder / f"{bp.PREFIX}vocab-neuroquery7547_vocabulary.txt").read_text()
    vocab = np.array([line.split("\t")[0] for line in vocab.splitlines()])

    def load(source: str) -> sp.csr_matrix:
        name = (
            f"{bp.PREFIX}vocab-neuroquery7547_source-{source}_type-count_features.npz"
        )
        return sp.load_npz(folder / name).tocsr()

    abstract, title, keywords = load("abstract"), load("title"), load("keywords")
    weight = (3 * title + 3 * keywords + abstract).tocsr()
    texts = []
    for i, head in enumerate(meta["title"].fillna("").astype(str)):
        kw = keywords.getrow(i)
        kw_terms = ", ".join(vocab[kw.indices[np.argsort(-kw.data, kind="stable")]])
        row = weight.getrow(i)
        terms = ", ".join(vocab[row.indices[np.argsort(-row.data, kind="stable")]])
        parts = [head.strip(), kw_terms, terms]
        texts.append(". ".join(p for p in parts if p))
    return texts


# ------------------------------------------------------------------------- caching


def cached_text(cache: Path, name: str, texts: list[str]) -> np.ndarray:
    """MiniLM embeddings of ``texts`` (cached per variant name and per text)."""
    from brainlm_decode.text.encoders import MiniLMEncoder

    path = cache / f"text_{name}.npy"
    if path.exists():
        emb = np.load(path)
        if emb.shape[0] == len(texts):
            return emb
    start = time.perf_counter()
    encoder = MiniLMEncoder(cache_dir=cache / "minilm", device="cpu", verbose=0)
    emb = np.asarray(encoder.encode(list(texts)), dtype=np.float32)
    np.save(path, emb)
    print(f"  text {name}: {len(texts)} texts in {time.perf_counter() - start:.0f} s")
    return emb


def cached_images(
    cache: Path, space: str, corpus: str, coords: pd.DataFrame, ids: list[str]
) -> np.ndarray:
    """MKDA maps of ``ids`` projected on ``space`` (cached)."""
    import warnings

    path = cache / f"image_{space}_{corpus}.npy"
    if path.exists():
        return np.load(path)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        emb = bp.make_space(space).transform_coordinates(coords, ids=ids)
    emb = np.asarray(emb, dtype=np.float32)
    np.save(path, emb)
    print(
        f"  images {space}/{corpus}: {len(ids)} in {time.perf_counter() - start:.0f} s"
    )
    return emb


def augmented_coordinates(
    coords: pd.DataFrame,
    ids: list[str],
    copy: int,
    drop: float = 0.2,
    jitter: float = 2.0,
) -> tuple[pd.DataFrame, list[str]]:
    """Copy ``copy`` of the peaks of ``ids``: each peak dropped with probability
    ``drop`` (at least one kept per study) and the others moved by isotropic
    Gaussian noise of ``jitter`` mm per axis; ids get a ``__aug<copy>`` suffix."""
    rng = np.random.RandomState(1000 + copy)
    sub = coords[coords["id"].isin(set(ids))].reset_index(drop=True)
    keep = rng.uniform(size=len(sub)) >= drop
    first = ~sub["id"].duplicated()  # one peak per study is always kept
    sub = sub[keep | first.to_numpy()].copy()
    sub[["x", "y", "z"]] = sub[["x", "y", "z"]].to_numpy() + rng.normal(
        0.0, jitter, size=(len(sub), 3)
    )
    suffix = f"__aug{copy}"
    sub["id"] = sub["id"] + suffix
    return sub, [i + suffix for i in ids]


# ------------------------------------------------------------------------- data


class Data:
    """All corpora, splits and cached embeddings the variants draw from."""

    def __init__(self, cache: Path) -> None:
        cache.mkdir(parents=True, exist_ok=True)
        self.cache = cache
        self.nq, self.nq_coords = bp.load_neuroquery(bp.SHARED / "neuroquery")
        self.nq_ids = list(self.nq["id"])
        base_images = self.images("mni-parcels", "nq")
        self.test, rest = bp.split_neuroquery(base_images)  # the builder's split
        keep = np.abs(base_images).sum(axis=1) > 0
        order = np.random.RandomState(bp.SEED).permutation(np.flatnonzero(keep))
        if not np.array_equal(order[: bp.N_TEST], self.test):
            raise RuntimeError("the test split differs from the builder's")
        self.val = order[bp.N_TEST : bp.N_TEST + N_VAL]
        self.train = np.sort(order[bp.N_TEST + N_VAL :])
        self._ns = None

    @property
    def ns(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        if self._ns is None:
            self._ns = bp.load_neurosynth(bp.SHARED / "neurosynth")
        return self._ns

    def images(self, space: str, corpus: str) -> np.ndarray:
        if corpus == "nq":
            return cached_images(self.cache, space, "nq", self.nq_coords, self.nq_ids)
        studies, coords = self.ns
        return cached_images(self.cache, space, "ns", coords, list(studies["id"]))

    def nq_text(self, kind: str) -> np.ndarray:
        if kind == "base":
            return cached_text(self.cache, "nq_base", list(self.nq["text"]))
        return cached_text(
            self.cache, "nq_rich", nq_rich_texts(bp.SHARED / "neuroquery")
        )

    def training_set(
        self, variant: Variant
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(text, image, groups) of the training pairs of ``variant``."""
        text = self.nq_text(variant.nq_text)
        image = self.images(variant.space, "nq")
        ids = np.asarray(self.nq_ids)
        train = self.train[np.abs(image[self.train]).sum(axis=1) > 0]  # peaks in space
        text_tr, image_tr, ids_tr = text[train], image[train], ids[train]
        if variant.augment:
            # copies keep the study id as group: never split across train / val
            train_ids = list(ids[train])
            copies = [image_tr]
            for k in range(variant.augment):
                aug, aug_ids = augmented_coordinates(self.nq_coords, train_ids, k)
                copies.append(
                    cached_images(
                        self.cache, variant.space, f"nq_train_aug{k}", aug, aug_ids
                    )
                )
            n = variant.augment + 1
            text_tr = np.concatenate([text_tr] * n)
            image_tr = np.concatenate(copies)
            ids_tr = np.concatenate([ids_tr] * n)
        if variant.neurosynth == "none":
            return text_tr, image_tr, ids_tr
        studies, _ = self.ns
        ns_image = self.images(variant.space, "ns")
        held_out = set(ids[self.test]) | set(ids[self.val])
        in_nq = set(self.nq_ids)
        ns_ids = studies["id"].to_numpy()
        new = np.array(
            [
                i not in held_out and i not in in_nq and np.abs(ns_image[k]).sum() > 0
                for k, i in enumerate(ns_ids)
            ]
        )
        ns_texts = [
            bp.neurosynth_text(t, topics)
            for t, topics in zip(studies["title"], studies["topics"], strict=True)
        ]
        ns_text = cached_text(self.cache, "ns_title_topics", ns_texts)
        text_tr = np.concatenate([text_tr, ns_text[new]])
        image_tr = np.concatenate([image_tr, ns_image[new]])
        ids_tr = np.concatenate([ids_tr, ns_ids[new]])
        if variant.neurosynth == "merge":
            # NeuroQuery training studies also in Neurosynth: NQ text + NS topics
            topics = dict(zip(studies["id"], studies["topics"], strict=True))
            nq_raw = (
                list(self.nq["text"])
                if variant.nq_text == "base"
                else nq_rich_texts(bp.SHARED / "neuroquery")
            )
            merged = [
                bp.merged_text(nq_raw[k], topics.get(ids[k], "")) for k in self.train
            ]
            merged_emb = cached_text(
                self.cache, f"nq_{variant.nq_text}_merged_train", merged
            )
            text_tr = text_tr.copy()
            text_tr[: len(train)] = merged_emb[np.isin(self.train, train)]
        return text_tr, image_tr, ids_tr

    def eval_set(self, variant: Variant, split: str) -> tuple[np.ndarray, np.ndarray]:
        rows = self.val if split == "val" else self.test
        text = self.nq_text(variant.nq_text)
        image = self.images(variant.space, "nq")[rows].copy()
        # a study without peaks in the space is unretrievable: a flat tiny map
        image[np.abs(image).sum(axis=1) == 0] = 1e-6
        return text[rows], image


# ------------------------------------------------------------------------- training


#: Training settings of the shipped bundle (``scripts/build_pretrained.py``).
TRAIN = {"embed_dim": 512, "dropout": 0.5, "n_epochs": 50, "patience": 10}


def train_model(
    text: np.ndarray, image: np.ndarray, groups: np.ndarray, seed: int, **train
) -> tuple:
    """One CLIP model with the bundle's settings (``train`` overrides them)."""
    from brainlm_decode.clip.train import train_clip

    return train_clip(
        text,
        image,
        groups=groups,
        validation_fraction=0.1,
        random_state=seed,
        device="cpu",
        **{**TRAIN, **train},
    )


def train_and_score(data: Data, variant: Variant, seed: int) -> dict:
    """Train one seed of ``variant``; retrieval metrics on validation and test.

    Results are cached in ``<cache>/runs``. The test metrics are computed here so
    that no model is trained twice, but only those of the baseline and of the
    variant chosen on validation are reported.
    """
    from brainlm_decode import CLIPDecoder

    path = data.cache / "runs" / f"{variant.name}_seed{seed}.json"
    if path.exists():
        result = json.loads(path.read_text())
        if result.get("variant") == asdict(variant):
            return result
    text, image, groups = data.training_set(variant)
    start = time.perf_counter()
    model, history = train_model(text, image, groups, seed, **variant.train)
    decoder = CLIPDecoder()
    decoder.model_ = model.cpu().eval()
    result = {
        "variant": asdict(variant),
        "seed": seed,
        "n_train": int(len(text)),
        "best_epoch": int(history.best_epoch),
        "logit_scale": float(model.scale),
        "train_s": round(time.perf_counter() - start, 1),
    }
    for split in ("val", "test"):
        metrics = bp.evaluate(decoder, *data.eval_set(variant, split))
        result[split] = {
            k: metrics[k] for k in ("recall_at_10", "recall_at_100", "mix_and_match")
        }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1))
    shown = {k: v for k, v in result.items() if k not in ("variant", "test")}
    print(f"  {variant.name} seed {seed}: {json.dumps(shown)}", flush=True)
    return result


def summary(runs: list[dict], split: str) -> dict:
    out = {}
    for key in ("recall_at_10", "recall_at_100", "mix_and_match"):
        values = np.array([r[split][key] for r in runs])
        out[key] = {"mean": float(values.mean()), "sd": float(values.std(ddof=1))}
    return out


def main() -> None:
    """Validation sweep, choice on validation Recall@10, test of baseline and choice."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--cache-dir", default=str(Path.home() / ".cache" / "brainlm_decode" / "bench")
    )
    parser.add_argument(
        "--out", default=str(ROOT / "benchmarks" / "results" / "retrieval")
    )
    parser.add_argument(
        "--prepare-only", action="store_true", help="only compute the cached embeddings"
    )
    args = parser.parse_args()
    start = time.perf_counter()
    data = Data(Path(args.cache_dir))
    names = [n for n in args.variants.split(",") if n]
    if args.prepare_only:
        for name in names:
            data.training_set(VARIANTS[name])
            data.eval_set(VARIANTS[name], "val")
        print(f"prepared in {time.perf_counter() - start:.0f} s")
        return
    print(
        f"NeuroQuery: {len(data.train)} train / {len(data.val)} validation / "
        f"{len(data.test)} test studies"
    )
    records: dict[str, dict] = {}
    runs: dict[str, list[dict]] = {}
    for name in names:
        runs[name] = [train_and_score(data, VARIANTS[name], s) for s in args.seeds]
        records[name] = {
            "variant": asdict(VARIANTS[name]),
            "val_runs": [
                {k: v for k, v in r.items() if k not in ("variant", "test")}
                for r in runs[name]
            ],
            "val": summary(runs[name], "val"),
        }
    base = records["base"]["val"]["recall_at_10"]
    chosen = max(names, key=lambda n: records[n]["val"]["recall_at_10"]["mean"])
    gain = records[chosen]["val"]["recall_at_10"]["mean"] - base["mean"]
    noise = max(base["sd"], records[chosen]["val"]["recall_at_10"]["sd"])
    if chosen != "base" and gain <= noise:
        print(f"{chosen} gains {gain:.4f} <= seed sd {noise:.4f}: keep base")
        chosen = "base"
    test = {
        name: {
            "runs": [{"seed": r["seed"], **r["test"]} for r in runs[name]],
            "test": summary(runs[name], "test"),
        }
        for name in dict.fromkeys(["base", chosen])
    }
    write_results(Path(args.out), data, names, records, chosen, test, args.seeds, start)


def write_results(out, data, names, records, chosen, test, seeds, start) -> None:
    """``out.json`` (everything) and ``out.txt`` (tables)."""
    payload = {
        "protocol": {
            "test": "builder's split: first 1,000 of RandomState(0) permutation of "
            "NeuroQuery studies with peaks in mni-parcels",
            "validation": "next 1,000 studies of the same permutation",
            "n_train_nq": int(len(data.train)),
            "seeds": seeds,
            "choice": "highest mean validation Recall@10 (base kept unless the gain "
            "exceeds the larger seed sd)",
        },
        "variants": records,
        "chosen": chosen,
        "test": test,
        "elapsed_s": round(time.perf_counter() - start),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(payload, indent=1, default=str))
    lines = [
        "NiCLIP retrieval variants: Recall@k of the true text among 1,000 held-out "
        f"NeuroQuery studies, mean +- sd over seeds {seeds}",
        "",
        f"{'variant':<20} {'n_train':>8} {'val R@10':>16} {'val R@100':>16}",
    ]
    for name in names:
        v = records[name]["val"]
        n = records[name]["val_runs"][0]["n_train"]
        lines.append(
            f"{name:<20} {n:>8} {_fmt(v['recall_at_10']):>16} "
            f"{_fmt(v['recall_at_100']):>16}"
        )
    lines += ["", f"chosen on validation: {chosen}", ""]
    lines.append(f"{'test':<20} {'R@10':>16} {'R@100':>16} {'mix&match':>16}")
    for name, rec in test.items():
        t = rec["test"]
        lines.append(
            f"{name:<20} {_fmt(t['recall_at_10']):>16} {_fmt(t['recall_at_100']):>16} "
            f"{_fmt(t['mix_and_match']):>16}"
        )
    lines.append(f"\nelapsed {payload['elapsed_s']} s")
    out.with_suffix(".txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def _fmt(stat: dict) -> str:
    return f"{100 * stat['mean']:.1f} +- {100 * stat['sd']:.1f}"


if __name__ == "__main__":
    main()
