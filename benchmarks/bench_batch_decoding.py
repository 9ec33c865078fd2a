"""Batch decoding throughput and memory: ``decode_many`` vs a NiMARE loop.

Run: ``nice -n 10 python benchmarks/bench_batch_decoding.py [--n-maps 1000]``.

1. Writes ``n_maps`` MKDA maps (3-8 random peaks in the brain, 2 mm MNI grid,
   ``.nii.gz``) to a temporary folder.
2. Times, each in a fresh process (peak RSS from ``getrusage``):
   - ``decode_many`` of the pretrained CLIPDecoder (all terms of the three
     levels, parquet output) with 1 and 2 loky workers;
   - the loop a NiMARE user writes: ``CorrelationDecoder.load_imgs`` of
     ``n_features`` term maps, then ``decoder.transform(path)`` per map, untuned
     and with ``gc.freeze()`` after setup. (NiMARE's decoders usually hold
     Neurosynth's 3,228 terms; the cost of its correlation grows linearly with
     the number of terms, so 100 terms favours NiMARE.)
3. Kills a ``decode-batch`` process half-way and resumes it: the maps done before
   the kill are not decoded again (no duplicated rows).

Prints maps/s, the ratios to the NiMARE loop, and memory, from the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()


def make_maps(folder: Path, n_maps: int, seed: int = 0) -> None:
    """Write ``n_maps`` MKDA maps of random in-brain peaks to ``folder``."""
    import nibabel as nib
    from nilearn.datasets import load_mni152_brain_mask

    from brainlm_decode.imaging import mkda_map

    mask = load_mni152_brain_mask(resolution=2)
    inside = np.argwhere(np.asanyarray(mask.dataobj) > 0)
    world = nib.affines.apply_affine(mask.affine, inside)
    rng = np.random.RandomState(seed)
    for i in range(n_maps):
        peaks = world[rng.choice(len(world), rng.randint(3, 9), replace=False)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            img = mkda_map(peaks)
        data = np.asanyarray(img.dataobj).astype(np.float32)
        nib.save(nib.Nifti1Image(data, img.affine), folder / f"map-{i:05d}.nii.gz")


def run_ours(folder: Path, n_jobs: int) -> dict:
    from brainlm_decode import CLIPDecoder

    decoder = CLIPDecoder.from_pretrained()
    paths = sorted(folder.glob("*.nii.gz"))
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        table = decoder.decode_many(
            paths, Path(tmp) / "out.parquet", n_jobs=n_jobs, backend="loky"
        )
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "maps": int(table["sha256"].nunique())}


def run_nimare(folder: Path, freeze: bool, n_features: int, n_maps: int) -> dict:
    import gc

    import nibabel as nib
    from nilearn.datasets import load_mni152_brain_mask
    from nimare.decode.continuous import CorrelationDecoder
    from scipy import ndimage

    mask = load_mni152_brain_mask(resolution=2)
    rng = np.random.RandomState(0)
    with tempfile.TemporaryDirectory() as tmp:
        features = {}
        for k in range(n_features):
            data = ndimage.gaussian_filter(rng.randn(*mask.shape), 3).astype(np.float32)
            path = Path(tmp) / f"term{k:04d}.nii.gz"
            nib.save(nib.Nifti1Image(data, mask.affine), path)
            features[f"term{k:04d}"] = str(path)
        decoder = CorrelationDecoder()
        decoder.load_imgs(features, mask=mask)
    paths = sorted(folder.glob("*.nii.gz"))[:n_maps]
    if freeze:
        gc.collect()
        gc.freeze()
    start = time.perf_counter()
    tables = [decoder.transform(str(path)) for path in paths]
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "maps": len(tables)}


def child(args: argparse.Namespace) -> None:
    folder = Path(args.folder)
    if args.child == "ours":
        result = run_ours(folder, args.n_jobs)
    else:
        result = run_nimare(
            folder, args.child == "nimare-freeze", args.n_features, args.n_baseline
        )
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result["peak_rss_mb"] = own / 1024  # loky workers are not counted
    print("RESULT " + json.dumps(result))


def measure(folder: Path, name: str, **extra) -> dict:
    cmd = [sys.executable, str(HERE), "--child", name, "--folder", str(folder)]
    for key, value in extra.items():
        cmd += [f"--{key.replace('_', '-')}", str(value)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    line = [x for x in out.stdout.splitlines() if x.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT ") :])


def kill_and_resume(folder: Path, n_maps: int) -> dict:
    """Kill decode-batch half-way, resume, check nothing is decoded twice."""
    import pandas as pd

    from brainlm_decode.decode.batch import _done_keys

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "results.parquet"
        parts = Path(tmp) / "results.parquet.parts"
        cmd = [
            sys.executable,
            "-m",
            "brainlm_decode.cli",
            "decode-batch",
            str(folder),
            "--out",
            str(out),
            "--chunk-size",
            "25",
            "--top",
            "5",
        ]
        proc = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        while proc.poll() is None:
            if (
                parts.is_dir()
                and len(list(parts.glob("part-*.parquet"))) * 25 >= n_maps // 2
            ):
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.2)
        proc.wait()
        done_before = len(_done_keys(out, parts))
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        seconds = time.perf_counter() - start
        table = pd.read_parquet(out)
    return {
        "done_before_kill": done_before,
        "resume_seconds": seconds,
        "maps_in_output": int(table["sha256"].nunique()),
        "duplicated_rows": int(table.duplicated(["sha256", "level", "rank"]).sum()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-maps", type=int, default=1000)
    parser.add_argument("--n-features", type=int, default=100)
    parser.add_argument(
        "--n-baseline", type=int, default=200, help="maps timed for the NiMARE loop"
    )
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--child", default=None)
    parser.add_argument("--folder", default=None)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        make_maps(folder, args.n_maps)
        print(f"{args.n_maps} maps written in {time.perf_counter() - start:.0f} s")
        runs = {
            "NiMARE CorrelationDecoder loop": measure(
                folder, "nimare", n_features=args.n_features, n_baseline=args.n_baseline
            ),
            "NiMARE loop + gc.freeze()": measure(
                folder,
                "nimare-freeze",
                n_features=args.n_features,
                n_baseline=args.n_baseline,
            ),
            "decode_many, 1 worker": measure(folder, "ours", n_jobs=1),
            "decode_many, 2 workers (loky)": measure(folder, "ours", n_jobs=2),
        }
        resume = kill_and_resume(folder, args.n_maps)
    nimare = runs["NiMARE CorrelationDecoder loop"]
    base = nimare["maps"] / nimare["seconds"]
    frozen = runs["NiMARE loop + gc.freeze()"]
    frozen = frozen["maps"] / frozen["seconds"]
    print(
        f"\n{args.n_maps} maps, 2 cores, os.cpu_count()={os.cpu_count()}; NiMARE with "
        f"{args.n_features} term maps, timed on the first {nimare['maps']} maps; ours: "
        "all terms of 3 levels, parquet output"
    )
    print(
        f"{'run':34s} {'maps/s':>8s} {'vs NiMARE':>10s} {'vs +freeze':>11s} "
        f"{'peak RSS MB (parent)':>21s}"
    )
    for name, r in runs.items():
        rate = r["maps"] / r["seconds"]
        print(
            f"{name:34s} {rate:8.1f} {rate / base:10.2f} {rate / frozen:11.2f} "
            f"{r['peak_rss_mb']:21.0f}"
        )
    print(
        f"\nkilled half-way: {resume['done_before_kill']} maps done; resumed in "
        f"{resume['resume_seconds']:.1f} s; {resume['maps_in_output']} maps in the "
        f"output, {resume['duplicated_rows']} duplicated rows"
    )


if __name__ == "__main__":
    main()
