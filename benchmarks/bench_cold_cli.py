"""Benchmark: cold (fresh-process) decoding from the command line, next to NiMARE.

Every case runs in a new interpreter, as a user running one command would; the
wall time is measured by the parent around the whole process (interpreter start,
imports, loading, decoding, exit) and the CPU time (user + system) of the child
from ``resource.getrusage``. One run of each case is made first and discarded
(bytecode and file caches), then ``--repeats`` runs, interleaved across cases so
that a change of machine load hits all cases alike. Printed: median, min and max.

Cases:

- ``python -c pass``: the interpreter alone;
- ``import brainlm_decode`` and ``import brainlm_decode.cli``;
- ``brainlm-decode decode MAP --top 5 --json`` (``python -m brainlm_decode.cli``):
  import, loading the pretrained decoder shipped in the package, decoding
  nilearn's sample motor map (3 mm, copied to a temporary file; resampled to the
  decoder's 2 mm grid) at the three levels;
- NiMARE as a user would run it cold: ``import nimare``, and a fresh process that
  imports NiMARE, loads a pre-fitted ``CorrelationDecoder`` (MKDAChi2 on NiMARE's
  n-back / flanker Studyset, 2 features, fitted once before timing and saved with
  its ``save``) with ``CorrelationDecoder.load`` and runs ``transform`` on the same
  map.

``--baseline-tree DIR`` also times ``import brainlm_decode`` and the decode with
another source tree of the package on ``PYTHONPATH`` (for example ``git archive``
of an earlier commit), in the same interleaved runs, for a before / after ratio.

Run (``--no-nimare`` skips the NiMARE cases and the fit, which takes a minute)::

    OMP_NUM_THREADS=1 python benchmarks/bench_cold_cli.py [--repeats 7]

Writes ``benchmarks/results/cold_cli.json`` and ``cold_cli.txt``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
DECODE = "brainlm-decode decode MAP --top 5 --json"
HEAVY = ("torch", "transformers", "nimare", "matplotlib", "nilearn", "sklearn")

NIMARE_DECODE = """
import sys
from nimare.decode.continuous import CorrelationDecoder
decoder = CorrelationDecoder.load(sys.argv[1])
table = decoder.transform(sys.argv[2])
print(table.sort_values(table.columns[0], ascending=False).head(5).to_json())
"""


def _env(pythonpath: str | None = None) -> dict[str, str]:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = pythonpath
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env.setdefault(name, "1")
    env.setdefault("MPLBACKEND", "Agg")
    env["PYTHONWARNINGS"] = "ignore"
    return env


def run_once(argv: list[str], pythonpath: str | None = None) -> tuple[float, float]:
    """Wall and CPU seconds of one fresh process running ``argv``.

    The process runs in a neutral folder (``python -c`` and ``-m`` put the working
    directory first on ``sys.path``), so that ``PYTHONPATH`` picks the tree.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        env=_env(pythonpath),
        cwd=tempfile.gettempdir(),
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise RuntimeError(f"{argv} failed:\n{out.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def modules_loaded(argv_code: str) -> list[str]:
    """Heavy packages in ``sys.modules`` after running ``argv_code`` in a process."""
    code = (
        f"{argv_code}\nimport sys\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=tempfile.gettempdir(),
    )
    last = out.stderr.strip().splitlines()[-1] if out.stderr.strip() else ""
    return [m for m in last.split(",") if m]


def _fit_nimare(folder: Path) -> Path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_decode_speed import _correlation_decoder  # same fit as the warm bench

    decoder = _correlation_decoder()
    path = folder / "correlation_decoder.pkl.gz"
    decoder.save(str(path), compress=True)
    return path


def _summary(runs: list[float]) -> dict[str, float]:
    return {
        "median": statistics.median(runs),
        "min": min(runs),
        "max": max(runs),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--no-nimare", action="store_true")
    parser.add_argument("--tag", default="", help="label stored with the results")
    parser.add_argument(
        "--baseline-tree",
        default=None,
        help="another source tree of brainlm_decode (e.g. a checkout of an earlier "
        "commit): its import and decode are timed too, in the same run",
    )
    args = parser.parse_args(argv)
    if args.repeats < 5:
        parser.error("--repeats must be at least 5")

    from nilearn.datasets import load_sample_motor_activation_image

    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        motor = folder / "motor.nii.gz"
        shutil.copy(load_sample_motor_activation_image(), motor)
        cases = {
            "python -c pass": [py, "-c", "pass"],
            "import brainlm_decode": [py, "-c", "import brainlm_decode"],
            "import brainlm_decode.cli": [py, "-c", "import brainlm_decode.cli"],
            DECODE: [
                py,
                "-m",
                "brainlm_decode.cli",
                "decode",
                str(motor),
                "--top",
                "5",
                "--json",
            ],
        }
        paths: dict[str, str | None] = dict.fromkeys(cases)
        if args.baseline_tree:
            tree = str(Path(args.baseline_tree).resolve())
            for name in ("import brainlm_decode", DECODE):
                cases[f"{name} [baseline tree]"] = cases[name]
                paths[f"{name} [baseline tree]"] = tree
        if not args.no_nimare:
            print("fitting NiMARE's CorrelationDecoder once (not timed) ...")
            pickle = _fit_nimare(folder)
            cases["import nimare"] = [py, "-c", "import nimare"]
            cases["NiMARE: import + load fitted CorrelationDecoder + transform"] = [
                py,
                "-c",
                NIMARE_DECODE,
                str(pickle),
                str(motor),
            ]
        for name, argv_ in cases.items():  # warm-up, discarded
            run_once(argv_, paths.get(name))
        walls: dict[str, list[float]] = {name: [] for name in cases}
        cpus: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.repeats):
            for name, argv_ in cases.items():
                wall, cpu = run_once(argv_, paths.get(name))
                walls[name].append(wall)
                cpus[name].append(cpu)
        decode_modules = modules_loaded(
            "import brainlm_decode.cli as c, contextlib, io\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    c.main(['decode', {str(motor)!r}, '--top', '5', '--json'])"
        )
    load = os.getloadavg()
    rows = {
        name: {"wall_s": _summary(walls[name]), "cpu_s": _summary(cpus[name])}
        for name in cases
    }
    lines = [
        f"Cold processes, {args.repeats} runs each (after one discarded), "
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
        f"load average at the end {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}"
        + (f", {args.tag}" if args.tag else ""),
        f"{'case':<62}{'wall median [min-max] s':>26}{'CPU median s':>14}",
    ]
    for name, row in rows.items():
        w, c = row["wall_s"], row["cpu_s"]
        lines.append(
            f"{name:<62}{w['median']:>8.3f} [{w['min']:.3f}-{w['max']:.3f}]"
            f"{c['median']:>14.3f}"
        )
    ours = rows[DECODE]["wall_s"]["median"]
    ours_import = rows["import brainlm_decode"]["wall_s"]["median"]
    if not args.no_nimare:
        nimare_decode = rows[
            "NiMARE: import + load fitted CorrelationDecoder + transform"
        ]["wall_s"]["median"]
        nimare_import = rows["import nimare"]["wall_s"]["median"]
        lines.append(
            f"ratio NiMARE cold decode / brainlm-decode cold decode: "
            f"{nimare_decode / ours:.1f}x; import nimare / import brainlm_decode: "
            f"{nimare_import / ours_import:.1f}x (wall medians)"
        )
    if args.baseline_tree:
        before = rows[f"{DECODE} [baseline tree]"]
        lines.append(
            f"decode, this tree / baseline tree: wall "
            f"{ours / before['wall_s']['median']:.2f}, CPU "
            f"{rows[DECODE]['cpu_s']['median'] / before['cpu_s']['median']:.2f}"
        )
    lines.append(
        f"heavy packages loaded by a decode: {', '.join(decode_modules) or 'none'}"
    )
    text = "\n".join(lines)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "cold_cli.json").write_text(
        json.dumps(
            {
                "repeats": args.repeats,
                "loadavg": load,
                "tag": args.tag,
                "cases": rows,
                "runs_wall_s": walls,
                "decode_loads": decode_modules,
            },
            indent=1,
        )
    )
    (RESULTS / "cold_cli.txt").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
