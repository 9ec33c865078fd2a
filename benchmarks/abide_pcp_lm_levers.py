"""ABIDE-I PCP leave-one-site-out: the levers of the frozen fMRI-LM probe (issue 17).

Companion of ``bench_abide_pcp_lm.py`` (same data, contract, features, probe,
folds, harness statistics and cache; read its docstring first), run by
``bench_abide_pcp_lm.py --levers``. One harness call, target diagnosis, the
15 leave-one-site-out folds, with:

- ``tangent + LR`` (reference of the paired differences) and
  ``correlation + LR``;
- ``HCP tok.``: the existing recipe (shipped ``hcp-rest-networks`` tokenizer,
  8 network channels x 5 patches = 40 fMRI tokens: ``token_layout="patch"``
  over the 8 network channels, i.e. one token per network x patch);
- ``untrained tok.``: the same tokenizer architecture (the shipped model's
  config) with its torch weights freshly initialised (seed 0), no training:
  the effect of Stage-1 pretraining;
- ``roi layout``: the HCP tokenizer with ``token_layout="roi"`` (one token per
  channel, pooled over the 5 patches: 8 tokens): the effect of the layout;
- ``+ desc. context``: the HCP-tokenizer probe with the subject's descriptor
  text between the fMRI tokens and the question (``FMRILMFeatures(descriptors=
  ...)``, the same place as ``descriptor_context=True`` of ``FMRILMBase``):
  the effect of the descriptor context, paired against ``HCP tok.``. The text
  is kept short: :class:`~brainlm_decode.FMRIDescriptorTransformer` with three
  families (``CTX_FAMILIES``: connectivity, gradients, graph) and ``top_k=1``
  (the most deviant feature per family, and the most deviant network pair
  both ways for connectivity): about 128 Gemma tokens (114 to 141), against
  ~350 for the four default families at ``top_k=3``. The transformer (norms,
  gradient references) is fitted **once on all 771 subjects without labels**
  (label-free but transductive: the held-out site's series shape the
  z-scores of its texts), as the ``lm_hcp_desc`` row of
  ``bench_abide_pcp_lm.py``; fitting it inside each fold would mean 15 x the
  LM features. The LM is causal and the fMRI tokens come first, so the mean
  fMRI-token half of the features is identical to ``HCP tok.``'s: the
  context acts through the last-prompt-token half only;
- ``desc. text only``: the same frozen Gemma on ``<bos> <descriptor text>
  ### Question: ... ### Answer:`` with no fMRI tokens (a text-only row of the
  package's collator); features = hidden state of the last prompt token (640
  values): what the text carries on its own.

Paired differences vs tangent come from the harness (bootstrap over sites);
the paired differences vs the HCP-tokenizer probe are per-site differences
with a bootstrap over sites (10,000 resamples, seed 0) computed here from the
same per-site scores.

Run::

    OMP_NUM_THREADS=2 nice -n 10 python benchmarks/bench_abide_pcp_lm.py --levers
"""

from __future__ import annotations

import json
import os
import platform
import time
import warnings
from pathlib import Path
from typing import Any

import bench_abide_pcp as base
import bench_abide_pcp_lm as lm
import numpy as np

TARGET = "diagnosis"
LEVERS = {
    "lm_hcp": "fMRI-LM frozen, HCP tok. + LR",
    "lm_untrained": "fMRI-LM frozen, untrained tok. (seed 0) + LR",
    "lm_roi": "fMRI-LM frozen, HCP tok., roi layout + LR",
    "lm_ctx": "fMRI-LM frozen, HCP tok. + desc. context (transductive) + LR",
    "text_ctx": "desc. text only, no fMRI tokens (transductive) + LR",
}
HCP = LEVERS["lm_hcp"]
#: The compact descriptor context: three families, the top feature of each.
CTX_FAMILIES = ("connectivity", "gradients", "graph")
CTX_TOP_K = 1
CTX_TAG = "cgg_k1"  # cache key of this choice (families, top_k)


def context_descriptors(lm160: np.ndarray) -> Any:
    """The context's descriptor transformer, fitted on all subjects (no labels).

    Norms (and the group references of the gradients) come from all 771
    subjects, the held-out site's included: label-free but transductive.
    """
    from brainlm_decode import FMRIDescriptorTransformer

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return FMRIDescriptorTransformer(
            list(CTX_FAMILIES), networks="cc200", top_k=CTX_TOP_K, random_state=0
        ).fit(list(lm160))


_FITTED: dict[str, Any] = {}


def context_texts(lm160: np.ndarray) -> tuple[Any, list[str], float]:
    """Fitted context descriptors, every subject's text, seconds per subject.

    Fitted once per run; the texts are also saved to the cache (read by the
    token count and shown as an example in the results).
    """
    if "ctx" not in _FITTED:
        start = time.perf_counter()
        descriptors = context_descriptors(lm160)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            texts = list(descriptors.to_text(list(lm160)))
        per = (time.perf_counter() - start) / len(lm160)
        lm.CACHE.mkdir(parents=True, exist_ok=True)
        path = lm.CACHE / f"ctx_texts_{CTX_TAG}_{len(lm160)}.json"
        path.write_text(json.dumps({"texts": texts, "s_per_subject": per}))
        print(f"  descriptor texts: {per:.3f} s per subject", flush=True)
        _FITTED["ctx"] = (descriptors, texts, per)
    return _FITTED["ctx"]


def text_only_features(texts: list[str], question: str, batch_size: int = 8) -> Any:
    """Frozen LM on ``<bos> <text> ### Question: ... ### Answer:`` (no fMRI tokens).

    The hidden state of the last prompt token (640 values), the same backbone
    and prompt as the ``lm_ctx`` row without the fMRI tokens (the package's
    collator lays out text-only rows for ``Example(subject=-1)``).
    """
    import torch

    from brainlm_decode.lm.features import FMRILMFeatures
    from brainlm_decode.lm.instruction import Example
    from brainlm_decode.lm.prompts import format_question

    features = FMRILMFeatures(networks="cc200", device="cpu", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        features.fit(np.zeros((1, 160, 200), dtype=np.float32))
    collator = features._lm._collator()
    model = features.model_
    prompt = format_question(question)
    out = []
    for start in range(0, len(texts), batch_size):
        chunk = texts[start : start + batch_size]
        batch = collator([Example(-1, t.strip() + " " + prompt, "") for t in chunk])
        with torch.no_grad():
            hidden = model.hidden_states(batch).float()
        last = (batch["blocks"] < 2**40).sum(1) - 1
        out.append(hidden[torch.arange(len(chunk)), last].numpy())
    return np.concatenate(out).astype(np.float32)


def prompt_lengths(texts: list[str], question: str) -> dict[str, float]:
    """LM tokens of the descriptor text and of the whole text part of the prompt."""
    from brainlm_decode.lm.features import FMRILMFeatures
    from brainlm_decode.lm.prompts import format_question

    features = FMRILMFeatures(networks="cc200", device="cpu", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        features.fit(np.zeros((1, 160, 200), dtype=np.float32))
    tok = features._lm.lm_tokenizer_
    ctx = np.array([len(tok(t, add_special_tokens=False)["input_ids"]) for t in texts])
    full = np.array(
        [
            len(
                tok(t + " " + format_question(question), add_special_tokens=False)[
                    "input_ids"
                ]
            )
            for t in texts
        ]
    )
    return {
        "context_tokens_mean": float(ctx.mean()),
        "context_tokens_min": int(ctx.min()),
        "context_tokens_max": int(ctx.max()),
        "prompt_tokens_mean": float(full.mean()),
        "question_tokens": len(
            tok(format_question(question), add_special_tokens=False)["input_ids"]
        ),
        "fmri_tokens": int(features.layout_.n_tokens),
    }


def untrained_tokenizer(seed: int = 0) -> Any:
    """The shipped tokenizer with its model re-initialised (same shape, no training)."""
    import torch

    from brainlm_decode.tokenizer.model import TokenizerModel
    from brainlm_decode.tokenizer.pretrained import load_pretrained_tokenizer

    tok = load_pretrained_tokenizer("hcp-rest-networks")
    torch.manual_seed(seed)
    model = TokenizerModel.from_config(tok.model_.get_config())
    model.eval()
    tok.model_ = model
    return tok


def lever_features(
    variant: str, lm160: np.ndarray, channels: np.ndarray
) -> tuple[np.ndarray, float]:
    """Features of all subjects for one lever (cached like the LM script)."""
    if variant == "lm_hcp":
        return lm.lm_features("lm_hcp", TARGET, lm160, channels)
    from brainlm_decode.lm.features import FMRILMFeatures
    from brainlm_decode.lm.prompts import questions_for

    ctx = variant in ("lm_ctx", "text_ctx")
    key = f"{variant}_{CTX_TAG}" if ctx else variant
    path = lm.CACHE / f"{key}_{TARGET}.npy"
    timing = lm.CACHE / f"{key}_{TARGET}.json"
    if path.is_file() and timing.is_file():
        return np.load(path), json.loads(timing.read_text())["s_per_subject"]
    params: dict[str, Any] = {"tokenizer": "hcp-rest-networks"}
    text_s = 0.0
    if variant == "lm_untrained":
        params["tokenizer"] = untrained_tokenizer(0)
    elif variant == "lm_roi":
        params["token_layout"] = "roi"
    elif ctx:
        descriptors, texts, text_s = context_texts(lm160)
        params["descriptors"] = descriptors  # fitted: used as is
    start = time.perf_counter()
    if variant == "text_ctx":
        Z = text_only_features(texts, questions_for(TARGET)[0])
    else:
        features = FMRILMFeatures(
            networks="cc200",
            question=questions_for(TARGET)[0],
            device="cpu",
            random_state=0,
            **params,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            Z = features.fit(lm160).transform(lm160)
    # descriptor texts counted in the cost of the rows that read them
    per = (time.perf_counter() - start) / len(lm160) + text_s
    lm.CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, Z)
    timing.write_text(json.dumps({"s_per_subject": per, "shape": list(Z.shape)}))
    print(f"  {variant} / {TARGET}: {per:.3f} s per subject, {Z.shape}", flush=True)
    return Z, per


def paired_vs(result: Any, est: str, ref: str, metric: str) -> dict[str, float]:
    """Mean per-site difference est - ref and its bootstrap CI over sites."""
    from brainlm_decode.evaluation.stats import percentile_ci

    table = result.split_table(metric)
    diff = (table[est] - table[ref]).dropna().to_numpy()
    rng = np.random.RandomState(0)
    boots = diff[rng.randint(0, diff.size, (10000, diff.size))].mean(axis=1)
    lo, hi = percentile_ci(boots, 0.95)
    return {"mean": float(diff.mean()), "ci_low": float(lo), "ci_high": float(hi)}


def run(args: Any) -> None:
    """One harness call with the levers; writes abide_pcp_lm_levers.{md,json}."""
    from sklearn.pipeline import make_pipeline

    from brainlm_decode.evaluation import (
        compare_estimators,
        correlation_baseline,
        tangent_baseline,
    )
    from brainlm_decode.lm.features import network_series

    start = time.perf_counter()
    data, targets = base.load(args.sites.split(",") if args.sites else None)
    lm160 = base.lm_contract(data, 160)
    channels = network_series(lm160, "cc200")
    costs: dict[str, Any] = {}
    X = [{"raw": ts} for ts in data.timeseries]
    for variant in LEVERS:
        Z, per = lever_features(variant, lm160, channels)
        costs[f"{variant}_s_per_subject"] = per
        for x, z in zip(X, Z, strict=True):
            x[variant] = z
    costs["features_wall_s"] = time.perf_counter() - start
    from brainlm_decode.lm.prompts import questions_for

    _, texts, _ = context_texts(lm160)
    context = {
        "families": list(CTX_FAMILIES),
        "top_k": CTX_TOP_K,
        "fitted_on": "all subjects, no labels (transductive)",
        "example_text": texts[0],
        **prompt_lengths(texts, questions_for(TARGET)[0]),
    }
    sites = np.asarray(data.site)
    models = {
        "tangent + LR": tangent_baseline(C=base.C, preprocessor=base.pick("raw")),
        "correlation + LR": correlation_baseline(
            C=base.C, preprocessor=base.pick("raw")
        ),
    }
    for variant, name in LEVERS.items():
        models[name] = make_pipeline(base.pick(variant), lm.probe())
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = compare_estimators(
            models,
            X,
            targets[TARGET],
            cv="logo",
            groups=sites,
            scoring=base.TARGETS[TARGET][1],
            reference="tangent + LR",
            statistic="mean",
            n_bootstrap=args.n_bootstrap,
            n_permutations=args.n_permutations,
            permutation="fixed",
            random_state=0,
            verbose=1,
        )
    harness_min = (time.perf_counter() - t0) / 60
    results = base.results_dict(TARGET, result)
    metrics, names = base.TARGETS[TARGET][1], base.TARGETS[TARGET][2]
    for est in results:
        for metric, label in zip(metrics, names, strict=True):
            results[est]["summary"][label]["diff_vs_hcp_probe"] = (
                None if est == HCP else paired_vs(result, est, HCP, metric)
            )
    meta = {
        "n_subjects": len(sites),
        "n_sites": len(np.unique(sites)),
        "wall_min": (time.perf_counter() - start) / 60,
        "harness_min": harness_min,
        "machine": f"{platform.processor() or platform.machine()}, "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, "
        f"{os.cpu_count()} cores shared",
        "costs": costs,
        "descriptor_context": context,
        "settings": {
            "target": TARGET,
            "C": base.C,
            "n_timepoints_lm": 160,
            "n_permutations": args.n_permutations,
            "n_bootstrap": args.n_bootstrap,
            "levers": LEVERS,
            "harness": "compare_estimators(cv='logo', statistic='mean', "
            "permutation='fixed')",
        },
    }
    text = markdown(results, meta)
    print(text, flush=True)
    out = Path(args.out) / "abide_pcp_lm_levers"
    out.with_suffix(".md").write_text(text)
    predictions = result.predictions.assign(
        SUB_ID=lambda d: np.asarray(data.subject_ids)[d["subject"].to_numpy()]
    )
    payload = {
        "meta": meta,
        "results": results,
        "predictions": predictions.to_dict("list"),
    }
    out.with_suffix(".json").write_text(json.dumps(payload, indent=1, default=float))


def _ci(d: dict | None) -> str:
    if d is None:
        return "—"
    return f"{d['mean']:+.3f} [{d['ci_low']:+.3f}, {d['ci_high']:+.3f}]"


def markdown(results: dict, meta: dict) -> str:
    """The lever table, per-site table and costs."""
    ctx = meta["descriptor_context"]
    lines = [
        f"# ABIDE-I PCP, levers of the frozen fMRI-LM probe, leave-one-site-out "
        f"({meta['n_subjects']} subjects, {meta['n_sites']} sites, CC200, "
        "diagnosis)",
        "",
        f"One `compare_estimators` call, same {meta['n_sites']} folds for every row. Mean ± sd "
        "over held-out sites; 95 % CI of the mean by bootstrap over sites; p: "
        f"labels permuted within sites against the fixed out-of-site predictions "
        f"({meta['settings']['n_permutations']} permutations); Δ: paired per-site "
        "differences, 95 % bootstrap CI over sites.",
        "",
        "| method | score | mean ± sd | 95 % CI | p | Δ vs tangent | Δ vs HCP-tok. probe |",
        "|---|---|---|---|---|---|---|",
    ]
    for est, entry in results.items():
        for name, e in entry["summary"].items():
            lines.append(
                f"| {est} | {name} | {e['mean']:.3f} ± {e['sd']:.3f} | "
                f"[{e['ci_low']:.3f}, {e['ci_high']:.3f}] | {e['p_value']:.4f} | "
                f"{_ci(e['diff_vs_reference'])} | {_ci(e.get('diff_vs_hcp_probe'))} |"
            )
    sites = sorted(next(iter(results.values()))["per_site"])
    lines += [
        "",
        "## Per held-out site (AUC / bal. acc.)",
        "",
        "| site | " + " | ".join(results) + " |",
        "|---|" + "---|" * len(results),
    ]
    for site in sites:
        cells = []
        for entry in results.values():
            s = entry["per_site"].get(site, {})
            cells.append(
                f"{s.get('AUC', float('nan')):.3f} / "
                f"{s.get('bal. acc.', float('nan')):.3f}"
            )
        lines.append(f"| {site} | " + " | ".join(cells) + " |")
    costs = meta["costs"]
    lines += [
        "",
        "## Costs",
        "",
        "Feature cost (once for all subjects, 1 torch thread, model loading "
        "included): "
        + ", ".join(
            f"{k[: -len('_s_per_subject')]} {v:.3f} s/subject"
            for k, v in costs.items()
            if k.endswith("_s_per_subject")
        )
        + ". Mean fit time per fold: "
        + ", ".join(f"{k} {v['fit_s_per_fold']:.1f} s" for k, v in results.items())
        + f". Harness {meta['harness_min']:.1f} min, wall {meta['wall_min']:.1f} "
        f"min ({meta['machine']}).",
        "",
        "Features: as `bench_abide_pcp_lm.py` (8 network channels, 160 points, "
        "frozen Gemma-3-270M, mean hidden state of the fMRI tokens and of the "
        "last prompt token). Untrained tok.: `TokenizerModel.from_config` of the "
        "shipped model's config under `torch.manual_seed(0)` (nothing trained). "
        "roi layout: one token per channel (8 tokens, pooled over patches) "
        "instead of one per channel x patch (40 tokens).",
        "",
        "Descriptor context: `FMRIDescriptorTransformer("
        f"{ctx['families']}, top_k={ctx['top_k']})` on CC200, fitted on "
        f"{ctx['fitted_on']}; its text goes between the fMRI tokens and the "
        f"question: {ctx['context_tokens_mean']:.0f} Gemma tokens on average "
        f"({ctx['context_tokens_min']} to {ctx['context_tokens_max']}), "
        f"{ctx['prompt_tokens_mean']:.0f} with the question, after "
        f"{ctx['fmri_tokens']} fMRI tokens. The fMRI tokens precede the text "
        "in a causal LM, so the mean fMRI-token half of the features equals the "
        "HCP-tok. row's; the context changes the last-token half only. desc. "
        "text only: the same prompt without fMRI tokens, last-token state (640 "
        "values). Cost of both rows includes fitting the descriptors and "
        "rendering the texts. Example (first subject):",
        "",
        "> " + ctx["example_text"].replace("\n\n", " "),
    ]
    return "\n".join(lines) + "\n"
