"""Benchmark: calibration and power of null-tested term scores (issue 10 item 3).

The pretrained :class:`~brainlm_decode.CLIPDecoder` decodes maps with
``null_test`` (spun-map nulls, :mod:`brainlm_decode.decode.null`), and each map's
p-values are computed from the same null scores both ways: ``"empirical"``
(``(1 + #exceed) / (1 + n_null)``) and ``"tail"`` (generalized Pareto tail below
10 exceedances, :mod:`brainlm_decode.decode.tail`). Reported:

- pure noise: ``--n-noise`` Gaussian noise maps on the MNI152 2 mm grid,
  smoothed with a ``--fwhm`` mm Gaussian: the fraction of tasks, concepts and
  domains with p < 0.05 and p < 0.01 (the nominal levels when calibrated) and the
  number of maps with any term at q < 0.05 (should be about 0);
- nilearn's sample motor map (``brainlm-decode demo``) and a face map built from
  NeuroQuery (``../shared/data/neuroquery``; skipped when missing): MKDA density
  of the studies whose title says "face" minus that of ``--n-base`` random
  studies (the pretrained decoder was trained on NeuroQuery, so this map is not
  held out): the terms at q < 0.05 and the top terms by p;
- the time per map of ``null_test`` with ``--n-null`` null maps (one thread).

Run::

    OMP_NUM_THREADS=1 python benchmarks/bench_null_calibration.py [--n-noise 30]
        [--n-null 1000]

It writes ``benchmarks/results/null_calibration.{txt,json}``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import nibabel as nib
import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
LEVELS = ("task", "concept", "domain")


def _names(decoder: object) -> dict[str, list[str]]:
    atlas = decoder.ontology_
    return {
        "task": list(atlas.task_names),
        "concept": list(atlas.concept_names),
        "domain": list(atlas.domain_names),
    }


def _both(decoder: object, img: object, n_null: int, seed: int) -> dict:
    """Null test of one map: tail and empirical p/q from the same nulls, timing."""
    from brainlm_decode.decode.null import bh_fdr, empirical_pvalues, null_test

    start, cpu = time.perf_counter(), time.process_time()
    result, null = null_test(decoder, img, n_null, random_state=seed, return_null=True)
    out = {
        "wall_s": time.perf_counter() - start,
        "cpu_s": time.process_time() - cpu,
    }
    for level in LEVELS:
        p_emp = empirical_pvalues(null["observed"][level], null[level])
        out[level] = {
            "tail": result[level],
            "empirical": {"p": p_emp, "q": bh_fdr(p_emp)},
        }
    return out


def _noise_maps(n_maps: int, fwhm: float, seed: int) -> list[nib.Nifti1Image]:
    from scipy import ndimage

    from brainlm_decode.imaging import load_mni152_brain_mask

    mask_img = load_mni152_brain_mask()
    sigma = fwhm / np.sqrt(8 * np.log(2)) / 2.0  # voxels of 2 mm
    rng = np.random.default_rng(seed)
    maps = []
    for _ in range(n_maps):
        data = ndimage.gaussian_filter(rng.standard_normal(mask_img.shape), sigma)
        maps.append(
            nib.Nifti1Image((data / data.std()).astype(np.float32), mask_img.affine)
        )
    return maps


def _face_map(n_base: int, seed: int) -> nib.Nifti1Image | None:
    import pandas as pd

    from brainlm_decode.imaging import load_mni152_brain_mask, mkda_matrix

    folder = SHARED / "neuroquery"
    if not folder.is_dir():
        return None
    meta = pd.read_csv(folder / "data-neuroquery_version-1_metadata.tsv.gz", sep="\t")
    coords = pd.read_csv(
        folder / "data-neuroquery_version-1_coordinates.tsv.gz", sep="\t"
    )
    face = meta.loc[meta["title"].str.contains(r"\bfaces?\b", case=False), "id"]
    rng = np.random.default_rng(seed)
    base = rng.choice(meta["id"].to_numpy(), size=n_base, replace=False)
    mask_img = load_mni152_brain_mask()
    mask = np.asanyarray(mask_img.dataobj) > 0
    density = []
    for ids in (face.to_numpy(), base):
        matrix, _ = mkda_matrix(coords[coords["id"].isin(ids)], mask_img=mask_img)
        density.append(np.asarray(matrix.mean(axis=0)).ravel())
    data = np.zeros(mask.shape, dtype=np.float32)
    data[mask] = density[0] - density[1]
    print(f"face map: {len(face)} studies against {n_base}", flush=True)
    return nib.Nifti1Image(data, mask_img.affine)


def _top(run: dict, names: dict, level: str, k: int = 5) -> list[dict]:
    p, q = run[level]["tail"]["p"], run[level]["tail"]["q"]
    p_emp = run[level]["empirical"]["p"]
    order = np.argsort(p, kind="stable")[:k]
    return [
        {
            "term": names[level][i],
            "p_tail": float(p[i]),
            "q_tail": float(q[i]),
            "p_empirical": float(p_emp[i]),
            "q_empirical": float(run[level]["empirical"]["q"][i]),
        }
        for i in order
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-noise", type=int, default=30)
    parser.add_argument("--n-null", type=int, default=1000)
    parser.add_argument("--fwhm", type=float, default=8.0)
    parser.add_argument("--n-base", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from nilearn.datasets import load_sample_motor_activation_image

    from brainlm_decode import CLIPDecoder

    warnings.filterwarnings("ignore", category=UserWarning)
    decoder = CLIPDecoder.from_pretrained().set_params(random_state=args.seed)
    names = _names(decoder)
    noise = []
    for i, img in enumerate(_noise_maps(args.n_noise, args.fwhm, args.seed)):
        noise.append(_both(decoder, img, args.n_null, args.seed + i))
        print(
            f"noise map {i + 1}/{args.n_noise}: {noise[-1]['wall_s']:.1f} s", flush=True
        )
    calibration = {}
    for level in LEVELS:
        for kind in ("tail", "empirical"):
            p = np.concatenate([run[level][kind]["p"] for run in noise])
            q_min = [float(run[level][kind]["q"].min()) for run in noise]
            calibration[f"{level}/{kind}"] = {
                "frac_p_lt_0.05": float(np.mean(p < 0.05)),
                "frac_p_lt_0.01": float(np.mean(p < 0.01)),
                "frac_p_lt_0.001": float(np.mean(p < 0.001)),
                "maps_with_q_lt_0.05": int(sum(q < 0.05 for q in q_min)),
                "min_q": float(min(q_min)),
            }
    maps = {"motor (nilearn sample)": load_sample_motor_activation_image()}
    face = _face_map(args.n_base, args.seed)
    if face is not None:
        maps["face (NeuroQuery titles, in-sample)"] = face
    real = {}
    for label, img in maps.items():
        run = _both(decoder, img, args.n_null, args.seed)
        real[label] = {
            "wall_s": run["wall_s"],
            **{
                level: {
                    "n_q_lt_0.05_tail": int((run[level]["tail"]["q"] < 0.05).sum()),
                    "n_q_lt_0.05_empirical": int(
                        (run[level]["empirical"]["q"] < 0.05).sum()
                    ),
                    "top": _top(run, names, level),
                }
                for level in LEVELS
            },
        }
        print(f"{label}: {run['wall_s']:.1f} s", flush=True)
    walls = [run["wall_s"] for run in noise] + [r["wall_s"] for r in real.values()]
    cpus = [run["cpu_s"] for run in noise]
    payload = {
        "args": vars(args),
        "null_test_per_map_s": {
            "wall_median": float(np.median(walls)),
            "cpu_median": float(np.median(cpus)) if cpus else None,
        },
        "noise_calibration": calibration,
        "maps": real,
        "python": sys.version.split()[0],
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "null_calibration.json").write_text(json.dumps(payload, indent=2))
    lines = [
        "Null-tested term scores: calibration on noise, power on real maps",
        f"(pretrained bundle, n_null={args.n_null}, seed {args.seed}; "
        "tail = generalized Pareto tail p, empirical = (1+#exceed)/(1+n_null),",
        " both from the same null maps; one thread)",
        "",
        f"null_test time per map: median {np.median(walls):.1f} s wall"
        + (f", {np.median(cpus):.1f} s CPU" if cpus else ""),
        "",
        f"{args.n_noise} smoothed Gaussian noise maps (FWHM {args.fwhm:g} mm, "
        "MNI152 2 mm):",
        f"{'level/p-values':20s} {'p<.05':>7s} {'p<.01':>7s} {'p<.001':>7s} "
        f"{'maps q<.05':>11s} {'min q':>7s}",
    ]
    for key, row in calibration.items():
        lines.append(
            f"{key:20s} {row['frac_p_lt_0.05']:7.4f} {row['frac_p_lt_0.01']:7.4f} "
            f"{row['frac_p_lt_0.001']:7.4f} {row['maps_with_q_lt_0.05']:11d} "
            f"{row['min_q']:7.3f}"
        )
    for label, row in real.items():
        lines += ["", f"{label} ({row['wall_s']:.1f} s):"]
        for level in LEVELS:
            lines.append(
                f"  {level}: {row[level]['n_q_lt_0.05_tail']} terms at q < 0.05 "
                f"(tail), {row[level]['n_q_lt_0.05_empirical']} (empirical)"
            )
            for item in row[level]["top"]:
                lines.append(
                    f"    {item['term'][:45]:45s} p {item['p_tail']:.2e} "
                    f"q {item['q_tail']:.3f}  (empirical p {item['p_empirical']:.4f}"
                    f" q {item['q_empirical']:.3f})"
                )
    text = "\n".join(lines) + "\n"
    (RESULTS / "null_calibration.txt").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
