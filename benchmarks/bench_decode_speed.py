"""Benchmark: warm decoding time per map on 1, 2 and 3 mm MNI grids.

The pretrained :class:`~brainlm_decode.CLIPDecoder` decodes nilearn's sample motor
map (tasks + concepts + domains, ``decode``) resampled to the 1, 2 and 3 mm grids
of nilearn's MNI152 templates, three ways:

- ``cached``: the default, off-grid maps go through the per-grid
  :class:`~brainlm_decode.imaging.resampling.GridResampler` (built on the first map
  of a grid, reused after);
- ``nilearn``: the previous path, :func:`nilearn.image.resample_to_img` per map;
- NiMARE's ``CorrelationDecoder`` (MKDAChi2, fitted once on NiMARE's n-back /
  flanker Studyset, 2 features) ``transform`` per map, for reference.

Each is timed untuned and with :func:`gc.freeze` (nilearn calls ``gc.collect``
per masking call; freezing the long-lived objects makes those collections cheap).
Median wall and process-CPU time of ``--repeats`` warm calls; one thread
(CPU time is the robust figure on a shared machine). Run::

    OMP_NUM_THREADS=1 python benchmarks/bench_decode_speed.py [--repeats 20]
"""

from __future__ import annotations

import argparse
import gc
import importlib.resources
import json
import sys
import time
import warnings
from pathlib import Path

import nibabel as nib
import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"


def _maps() -> dict[str, nib.Nifti1Image]:
    from nilearn.datasets import (
        load_mni152_template,
        load_sample_motor_activation_image,
    )
    from nilearn.image import resample_to_img

    motor = nib.load(load_sample_motor_activation_image())
    from brainlm_decode.imaging import load_mni152_brain_mask

    mask = load_mni152_brain_mask()
    on_grid = resample_to_img(motor, mask, force_resample=True, copy_header=True)
    out = {
        f"2 mm decoder grid {on_grid.shape}": nib.Nifti1Image(
            on_grid.get_fdata(dtype=np.float32), on_grid.affine
        )
    }
    for res in (1, 2, 3):
        grid = load_mni152_template(resolution=res)
        img = resample_to_img(motor, grid, force_resample=True, copy_header=True)
        out[f"{res} mm {img.shape}"] = nib.Nifti1Image(
            img.get_fdata(dtype=np.float32), img.affine
        )
    return out


def _median_ms(function, repeats: int) -> tuple[float, float]:
    """Median wall and process-CPU milliseconds of warm calls."""
    function()  # warm: caches, lazy imports
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        function()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return 1000 * float(np.median(wall)), 1000 * float(np.median(cpu))


def _correlation_decoder():
    from nimare.decode import CorrelationDecoder
    from nimare.meta.cbma import MKDAChi2
    from nimare.studyset import Studyset

    path = importlib.resources.files("nimare") / "resources"
    studyset = Studyset.from_parquet(
        Path(str(path / "nback_vs_flanker_studyset_2026-07"))
    )
    from brainlm_decode.collection import load_collection

    coll = load_collection(Path(str(path / "nback_vs_flanker_studyset_2026-07")))
    labels = coll.annotations["comparison_task"]
    import pandas as pd

    frame = pd.DataFrame(
        {
            "id": list(coll.ids),
            "task__nback": (labels.loc[list(coll.ids)] == "n-back")
            .astype(float)
            .to_numpy(),
            "task__flanker": (labels.loc[list(coll.ids)] == "flanker")
            .astype(float)
            .to_numpy(),
        }
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
    decoder.fit(studyset)  # NiMARE's fit returns None
    return decoder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--no-nimare", action="store_true")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    from brainlm_decode import CLIPDecoder

    decoder = CLIPDecoder.from_pretrained()
    space = decoder.image_space_
    maps = _maps()
    nimare = None if args.no_nimare else _correlation_decoder()
    rows = []
    for frozen in (False, True):
        if frozen:
            gc.collect()
            gc.freeze()
        for name, img in maps.items():
            row = {"grid": name, "gc_freeze": frozen}
            row["cached_ms"], row["cached_cpu_ms"] = _median_ms(
                lambda img=img: decoder.decode(img), args.repeats
            )
            original = space._resampler_for
            space._resampler_for = lambda *a, **k: None  # the previous nilearn path
            try:
                row["nilearn_ms"], row["nilearn_cpu_ms"] = _median_ms(
                    lambda img=img: decoder.decode(img), max(3, args.repeats // 4)
                )
            finally:
                space._resampler_for = original
            if nimare is not None:
                row["nimare_ms"], row["nimare_cpu_ms"] = _median_ms(
                    lambda img=img: nimare.transform(img), max(3, args.repeats // 4)
                )
            rows.append(row)
            print(json.dumps(row), flush=True)
        if frozen:
            gc.unfreeze()
    print(
        "\nms per map, wall (process CPU):\n| grid | gc.freeze | CLIPDecoder cached "
        "| CLIPDecoder nilearn resampling | NiMARE CorrelationDecoder |"
    )
    print("|---|---|---|---|---|")
    for row in rows:
        cells = [
            f"{row.get(k + '_ms', float('nan')):.1f} "
            f"({row.get(k + '_cpu_ms', float('nan')):.1f})"
            for k in ("cached", "nilearn", "nimare")
        ]
        print(f"| {row['grid']} | {row['gc_freeze']} | " + " | ".join(cells) + " |")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "decode_speed.json").write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
