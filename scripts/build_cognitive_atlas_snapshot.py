"""Build the Cognitive Atlas snapshot shipped in ``brainlm_decode/data/cognitive_atlas``.

Reads the Cognitive Atlas JSON export (``TaskCollection.json``,
``ConceptCollection.json``, ``ConceptClassCollection.json``,
``AssertionCollection.json``) with
:func:`brainlm_decode.ontology.load_cognitive_atlas_dump`, checks that its ids,
names and links equal those of the ontology inside the pretrained bundle (which
keeps names, ids and links only, no definitions), and writes:

- ``cognitive_atlas.json.gz``: the :class:`~brainlm_decode.ontology.CognitiveAtlas`
  snapshot with definitions (compact JSON, sorted keys, gzip with mtime 0, so the
  same export gives the same bytes);
- ``manifest.json``: version ``cogat-export-<date>`` where the date is the latest
  ``last_updated`` of the export's records, sha256 of the file and of its JSON,
  counts, and the CC BY-SA 3.0 attribution.

Usage (the export is in ``../shared/data/cognitive_atlas`` on developer machines)::

    python scripts/build_cognitive_atlas_snapshot.py [--export FOLDER] [--out FOLDER]

``--export`` may also be a saved ontology JSON (e.g. the bundle's
``ontology.json``); that one has no definitions, so the vocabulary embeddings
fall back to task names, and the shipped snapshot is built from the export.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import hashlib
import json
import warnings
from pathlib import Path

from brainlm_decode.ontology import CognitiveAtlas, load_cognitive_atlas_dump

ROOT = Path(__file__).resolve().parents[1]
EXPORT = ROOT.parent / "shared" / "data" / "cognitive_atlas"
OUT = ROOT / "brainlm_decode" / "data" / "cognitive_atlas"
BUNDLE = ROOT / "brainlm_decode" / "data" / "pretrained" / "niclip-neuroquery-minilm"
FILENAME = "cognitive_atlas.json.gz"
DATED = (
    "TaskCollection.json",
    "ConceptCollection.json",
    "ConceptClassCollection.json",
    "AssertionCollection.json",
)
SOURCE_URL = "https://github.com/CognitiveAtlas/legacy_cogat_linkml"
LICENSE = "CC BY-SA 3.0"
LICENSE_URL = "https://creativecommons.org/licenses/by-sa/3.0/"
CITATION = (
    "Poldrack RA, Kittur A, Kalar D, Miller E, Seppa C, Gil Y, Parker DS, Sabb FW, "
    "Bilder RM (2011). The Cognitive Atlas: toward a knowledge foundation for "
    "cognitive neuroscience. Frontiers in Neuroinformatics 5:17. "
    "doi:10.3389/fninf.2011.00017"
)


def export_date(folder: Path) -> str:
    """Latest ``last_updated`` (epoch ms) of the export's records, as YYYY-MM-DD."""
    latest = 0
    for name in DATED:
        path = folder / name
        if not path.is_file():
            continue
        for entry in json.loads(path.read_text(encoding="utf-8"))["entries"]:
            stamp = str(entry.get("last_updated", ""))
            if stamp.isdigit():
                latest = max(latest, int(stamp))
    if not latest:
        raise ValueError(f"No dated record in {folder}.")
    return dt.datetime.fromtimestamp(latest / 1000, tz=dt.UTC).date().isoformat()


def load_source(path: Path) -> tuple[CognitiveAtlas, str | None]:
    """The ontology and the export date (None for a saved ontology JSON)."""
    if path.is_dir():
        with warnings.catch_warnings():
            # the public export has shared names and empty definitions: kept
            warnings.simplefilter("ignore")
            atlas = load_cognitive_atlas_dump(path, on_invalid="ignore")
        return atlas, export_date(path)
    return CognitiveAtlas.load(path), None


def check_against_bundle(atlas: CognitiveAtlas, bundle: Path) -> str:
    """Raise unless ids, names and links equal the bundle's ontology."""
    path = bundle / "ontology.json"
    if not path.is_file():
        return "no pretrained bundle to compare with"
    other = CognitiveAtlas.load(path)
    same = (
        list(atlas.task_ids) == list(other.task_ids)
        and list(atlas.task_names) == list(other.task_names)
        and list(atlas.concept_ids) == list(other.concept_ids)
        and list(atlas.domain_ids) == list(other.domain_ids)
        and (atlas.task_concept_matrix != other.task_concept_matrix).nnz == 0
        and (atlas.concept_domain_matrix != other.concept_domain_matrix).nnz == 0
    )
    if not same:
        raise ValueError(
            f"The export differs from the ontology of the pretrained bundle {path}."
        )
    return f"ids, names and links equal those of {path.relative_to(ROOT)}"


def build(source: Path, out: Path, date: str | None = None) -> dict:
    """Write the snapshot and its manifest; return the manifest."""
    atlas, found = load_source(source)
    date = date or found
    if date is None:
        raise ValueError("A saved ontology carries no date: pass --date YYYY-MM-DD.")
    version = f"cogat-export-{date}"
    check = check_against_bundle(atlas, BUNDLE)
    atlas.source = f"Cognitive Atlas JSON export ({SOURCE_URL}), {version}"
    data = atlas.to_dict()
    data.pop("brainlm_decode_version", None)  # bytes independent of the version
    data["metadata"] = {}
    payload = json.dumps(
        data, ensure_ascii=False, separators=(",", ":"), sort_keys=True
    ).encode("utf-8")
    compressed = gzip.compress(payload, compresslevel=9, mtime=0)
    attribution = (
        f"Cognitive Atlas (https://www.cognitiveatlas.org; Poldrack et al. 2011), "
        f"JSON export with records up to {date} ({SOURCE_URL}), licensed under "
        f"{LICENSE} ({LICENSE_URL}). Changes: converted to the brainlm_decode "
        "CognitiveAtlas format (HTML entities and placeholders cleaned; task-concept "
        "links = task 'asserts' plus 'measured by' assertions). This snapshot is "
        f"distributed under the same licence, {LICENSE}."
    )
    manifest = {
        "name": "cognitive_atlas",
        "version": version,
        "date": date,
        "file": FILENAME,
        "sha256": hashlib.sha256(compressed).hexdigest(),
        "content_sha256": hashlib.sha256(payload).hexdigest(),
        "n_tasks": atlas.n_tasks,
        "n_concepts": atlas.n_concepts,
        "n_domains": atlas.n_domains,
        "n_task_concept_links": int(atlas.task_concept_matrix.nnz),
        "n_concept_domain_links": int(atlas.concept_domain_matrix.nnz),
        "source_url": SOURCE_URL,
        "license": LICENSE,
        "license_url": LICENSE_URL,
        "attribution": attribution,
        "citation": CITATION,
        "checked": check,
        "build_command": "python scripts/build_cognitive_atlas_snapshot.py",
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / FILENAME).write_bytes(compressed)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def main() -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--export", type=Path, default=EXPORT)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--date", default=None, help="YYYY-MM-DD (saved JSON input)")
    args = parser.parse_args()
    manifest = build(args.export, args.out, args.date)
    size = (args.out / FILENAME).stat().st_size / 1024
    print(
        f"{manifest['version']}: {manifest['n_tasks']} tasks, "
        f"{manifest['n_concepts']} concepts, {manifest['n_task_concept_links']} "
        f"task-concept links; {size:.1f} KiB; sha256 {manifest['sha256'][:12]}...; "
        f"{manifest['checked']}"
    )


if __name__ == "__main__":
    main()
