"""Synthetic data with planted effects, for tests, examples and benchmarks.

Two makers, both seeded through ``random_state``:

- :func:`make_studies_collection`: a NiMARE-style collection of studies whose
  texts and peak coordinates share planted topics (text <-> location).
- :func:`make_fmri_cohort`: ROI time series of a resting-state cohort whose
  patient group has a planted change of connectivity between two networks.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.utils import Bunch, check_random_state

from brainlm_decode.base import Interval, Satisfies, check_param
from brainlm_decode.datasets.atlases import YEO7_NETWORKS

__all__ = ["make_fmri_cohort", "make_studies_collection"]

_POSITIVE_INT = Interval(int, 1, None)


def _is_int_range(value: Any) -> bool:
    """An int >= 1, or a pair (low, high) of ints >= 1 with low <= high."""
    if not isinstance(value, (Sequence, np.ndarray)) or isinstance(value, str):
        return _POSITIVE_INT.accepts(value)
    return (
        len(value) == 2
        and all(_POSITIVE_INT.accepts(v) for v in value)
        and value[0] <= value[1]
    )


def _int_range(value: Any, name: str, caller: str) -> tuple[int, int]:
    """``value`` as a pair ``(low, high)``: an int ``n`` gives ``(n, n)``."""
    check_param(
        value,
        name,
        caller,
        [
            Satisfies(
                _is_int_range,
                "a positive int or a pair (low, high) of positive ints with low <= high",
            )
        ],
    )
    if _POSITIVE_INT.accepts(value):
        return int(value), int(value)
    return int(value[0]), int(value[1])


# --------------------------------------------------------------------------- #
# Studies collection
# --------------------------------------------------------------------------- #

# name, topic words, MNI centres (mm) of the planted activations
_TOPIC_BANK: tuple[
    tuple[str, tuple[str, ...], tuple[tuple[int, int, int], ...]], ...
] = (
    (
        "visual perception",
        ("visual", "retinotopic", "orientation", "luminance", "gratings", "flicker"),
        ((-10, -94, 2), (12, -92, 4)),
    ),
    (
        "motor execution",
        ("motor", "finger", "tapping", "movement", "grasping", "somatomotor"),
        ((-38, -22, 56),),
    ),
    (
        "language comprehension",
        ("language", "sentences", "semantic", "syntax", "reading", "comprehension"),
        ((-48, 20, 8), (-56, -40, 6)),
    ),
    (
        "episodic memory",
        ("memory", "encoding", "retrieval", "recollection", "episodic", "remembering"),
        ((-26, -20, -14), (26, -20, -14)),
    ),
    (
        "reward processing",
        ("reward", "monetary", "incentive", "anticipation", "gains", "dopamine"),
        ((10, 10, -8), (-10, 10, -8)),
    ),
    (
        "fear and emotion",
        ("fear", "emotional", "threat", "faces", "aversive", "anxiety"),
        ((-22, -4, -18), (22, -4, -18)),
    ),
    (
        "spatial attention",
        ("attention", "spatial", "saccades", "orienting", "cueing", "visuospatial"),
        ((-26, -60, 50), (26, -6, 52)),
    ),
    (
        "pain",
        ("pain", "nociceptive", "noxious", "thermal", "painful", "heat"),
        ((38, 4, 6), (2, 20, 36)),
    ),
    (
        "auditory processing",
        ("auditory", "tones", "pitch", "sounds", "listening", "acoustic"),
        ((-52, -22, 8), (54, -20, 8)),
    ),
    (
        "self-referential thought",
        ("self", "autobiographical", "mentalizing", "introspection", "rumination"),
        ((0, 52, 10), (0, -54, 28)),
    ),
)

_FILLER_WORDS: tuple[str, ...] = (
    "the", "of", "and", "in", "we", "that", "with", "during", "was", "were",
    "participants", "subjects", "results", "analysis", "study", "significant",
    "observed", "condition", "trial", "response", "activation", "brain",
    "region", "network", "effect", "increased", "compared", "data", "group",
    "healthy", "functional", "imaging", "findings", "suggest", "revealed",
    "task", "control", "baseline", "performance", "behavioral", "paradigm",
    "experiment", "evidence", "role", "using", "between", "across",
    "associated", "greater", "activity", "neural", "correlates",
)  # fmt: skip

_TITLE_SUFFIXES = (
    "in healthy adults",
    "an fMRI study",
    "a functional imaging study",
    "evidence from neuroimaging",
)


@functools.lru_cache(maxsize=1)
def _brain_grid() -> tuple[np.ndarray, np.ndarray, Any]:
    """In-mask voxels of nilearn's 2 mm MNI brain mask, eroded by one voxel.

    Returns the affine, the (n_voxels, 3) voxel indices and a KD-tree on them.
    Eroding keeps peaks away from the edge, so they also fall inside slightly
    tighter masks such as NiMARE's MNI152 2 mm template mask.
    """
    from nilearn.datasets import load_mni152_brain_mask
    from scipy import ndimage
    from scipy.spatial import cKDTree

    mask_img = load_mni152_brain_mask(resolution=2)
    mask = ndimage.binary_erosion(np.asanyarray(mask_img.dataobj) > 0)
    ijk = np.argwhere(mask)
    return np.asarray(mask_img.affine), ijk, cKDTree(ijk)


def _snap_to_mask(xyz: np.ndarray) -> np.ndarray:
    """Move MNI coordinates (n, 3) to the nearest voxel centre inside the mask."""
    affine, _, tree = _brain_grid()
    ijk = np.linalg.solve(affine[:3, :3], (xyz - affine[:3, 3]).T).T
    _, nearest = tree.query(ijk)
    voxels = tree.data[nearest]
    return np.rint(voxels @ affine[:3, :3].T + affine[:3, 3])


def _pseudo_word(rng: np.random.RandomState, n_syllables: int = 3) -> str:
    """A pronounceable pseudo-word, e.g. for topics beyond the built-in bank."""
    consonants, vowels = "bdfgklmnprstvz", "aeiou"
    return "".join(
        consonants[rng.randint(len(consonants))] + vowels[rng.randint(len(vowels))]
        for _ in range(n_syllables)
    )


def _make_topics(n_topics: int, rng: np.random.RandomState) -> pd.DataFrame:
    """Topic table: built-in topics first, then pseudo-word topics."""
    rows = []
    used = set(_FILLER_WORDS)
    for name, words, centers in _TOPIC_BANK[:n_topics]:
        used.update(words)
        rows.append((name, words, np.asarray(centers, dtype=float)))
    affine, ijk, _ = _brain_grid()
    for k in range(len(rows), n_topics):
        words = []
        while len(words) < 6:
            word = _pseudo_word(rng)
            if word not in used:
                used.add(word)
                words.append(word)
        voxels = ijk[rng.choice(len(ijk), size=1 + rng.randint(2), replace=False)]
        centers = voxels @ affine[:3, :3].T + affine[:3, 3]
        rows.append((f"topic {k}", tuple(words), centers))
    topics = pd.DataFrame(rows, columns=["name", "words", "centers"])
    topics["centers"] = [_snap_to_mask(c) for c in topics["centers"]]
    return topics.set_index("name")


def _study_text(
    weights: np.ndarray,
    words: list[tuple[str, ...]],
    n_sentences: tuple[int, int],
    word_rate: float,
    rng: np.random.RandomState,
) -> tuple[str, str]:
    """Title and abstract mixing topic words (drawn by ``weights``) and fillers."""
    lengths = rng.randint(8, 15, size=rng.randint(n_sentences[0], n_sentences[1] + 1))
    n_tokens = int(lengths.sum())
    is_topic = rng.rand(n_tokens) < word_rate
    token_topics = rng.choice(len(weights), size=n_tokens, p=weights)
    picks = rng.randint(1 << 30, size=n_tokens)
    tokens = [
        words[k][pick % len(words[k])]
        if topical
        else _FILLER_WORDS[pick % len(_FILLER_WORDS)]
        for topical, k, pick in zip(is_topic, token_topics, picks, strict=True)
    ]
    bounds = np.cumsum(lengths)[:-1]
    sentences = [
        " ".join(chunk).capitalize() + "."
        for chunk in np.split(np.array(tokens, dtype=object), bounds)
    ]
    main = words[int(np.argmax(weights))]
    first, second = rng.choice(len(main), size=2, replace=False)
    title = (
        f"Neural correlates of {main[first]} and {main[second]}: "
        f"{_TITLE_SUFFIXES[rng.randint(len(_TITLE_SUFFIXES))]}"
    )
    return title, " ".join(sentences)


def _study_peaks(
    weights: np.ndarray,
    centers: list[np.ndarray],
    n_peaks: int,
    noise: float,
    spread_mm: float,
    rng: np.random.RandomState,
) -> np.ndarray:
    """Peaks around the centres of topics drawn by ``weights``, plus noise peaks."""
    affine, ijk, _ = _brain_grid()
    is_noise = rng.rand(n_peaks) < noise
    peak_topics = rng.choice(len(weights), size=n_peaks, p=weights)
    picks = rng.randint(1 << 30, size=n_peaks)
    offsets = rng.normal(scale=spread_mm, size=(n_peaks, 3))
    noise_voxels = ijk[rng.randint(len(ijk), size=n_peaks)]
    noise_xyz = noise_voxels @ affine[:3, :3].T + affine[:3, 3]
    topic_xyz = (
        np.array(
            [
                centers[k][pick % len(centers[k])]
                for k, pick in zip(peak_topics, picks, strict=True)
            ]
        )
        + offsets
    )
    return _snap_to_mask(np.where(is_noise[:, None], noise_xyz, topic_xyz))


def make_studies_collection(
    n_studies: int = 200,
    n_topics: int = 4,
    peaks_per_study: int | tuple[int, int] = (5, 15),
    *,
    mixture_concentration: float | None = None,
    noise_peaks: float = 0.2,
    spread_mm: float = 6.0,
    topic_word_rate: float = 0.3,
    n_sentences: int | tuple[int, int] = (4, 8),
    return_type: Literal["dict", "dataset", "studyset"] = "dict",
    return_topics: bool = False,
    random_state: int | np.random.RandomState | None = None,
) -> Any:
    """Make a collection of studies with planted text <-> location associations.

    Each topic has a name, a few topic words and one or two centres in MNI
    space. Each study draws a topic (or a mixture of topics); its title and
    abstract mix words of its topic(s) with filler words, and its peaks are
    sampled around the centres of its topic(s), plus uniformly distributed
    noise peaks. All peaks are voxel centres inside nilearn's 2 mm MNI152
    brain mask (:func:`nilearn.datasets.load_mni152_brain_mask`), eroded by one
    voxel.

    The first ten topics are realistic (``"visual perception"``, ``"motor
    execution"``, ``"language comprehension"``, ``"episodic memory"``,
    ``"reward processing"``, ``"fear and emotion"``, ``"spatial attention"``,
    ``"pain"``, ``"auditory processing"``, ``"self-referential thought"``);
    further topics use pseudo-words and random centres.

    Parameters
    ----------
    n_studies : int, default=200
        Number of studies.
    n_topics : int, default=4
        Number of planted topics.
    peaks_per_study : int or (int, int), default=(5, 15)
        Number of peaks of a study, drawn uniformly in ``[low, high]``.
    mixture_concentration : float or None, default=None
        If ``None``, each study has a single topic, drawn uniformly. If a
        positive float, each study has topic weights drawn from a symmetric
        Dirichlet distribution with this concentration (small values give
        nearly pure studies); its ground-truth topic is the heaviest one.
    noise_peaks : float, default=0.2
        Probability that a peak is noise, uniform in the brain mask.
    spread_mm : float, default=6.0
        Standard deviation, in millimetres, of the peaks around a topic centre.
    topic_word_rate : float, default=0.3
        Probability that a word of the abstract is a topic word.
    n_sentences : int or (int, int), default=(4, 8)
        Number of sentences of an abstract.
    return_type : {"dict", "dataset", "studyset"}, default="dict"
        ``"dict"`` returns the dictionary accepted by
        :class:`nimare.dataset.Dataset`; ``"dataset"`` returns that Dataset;
        ``"studyset"`` returns a :class:`nimare.nimads.Studyset` converted from
        it.
    return_topics : bool, default=False
        Also return the table of planted topics.
    random_state : int, numpy.random.RandomState or None, default=None
        Seed or random number generator, for reproducible output.

    Returns
    -------
    collection : dict, nimare.dataset.Dataset or nimare.nimads.Studyset
        The studies. In the dictionary, each study ``"studyNNNN"`` has one
        contrast ``"1"`` with ``coords`` (``space="MNI"``, ``x``, ``y``,
        ``z``), ``text`` (``title``, ``abstract``), ``metadata``
        (``sample_sizes``) and ``labels``: ``topic`` (name of the ground-truth
        topic) and ``topic__<name>`` (weight of each topic in the study).
    topics : pandas.DataFrame
        Only if ``return_topics`` is True. Indexed by topic name, with columns
        ``words`` (tuple of str) and ``centers`` (array of shape (n, 3), MNI
        mm).

    Raises
    ------
    ValueError
        If an argument is invalid.

    See Also
    --------
    make_fmri_cohort : synthetic resting-state cohort.

    Examples
    --------
    >>> from brainlm_decode.datasets import make_studies_collection
    >>> studies, topics = make_studies_collection(
    ...     n_studies=10, n_topics=2, return_topics=True, random_state=0
    ... )
    >>> len(studies), list(topics.index)
    (10, ['visual perception', 'motor execution'])
    >>> contrast = studies["study0000"]["contrasts"]["1"]
    >>> sorted(contrast)
    ['coords', 'labels', 'metadata', 'text']
    """
    caller = "make_studies_collection"
    n_studies = int(check_param(n_studies, "n_studies", caller, [_POSITIVE_INT]))
    n_topics = int(check_param(n_topics, "n_topics", caller, [_POSITIVE_INT]))
    peak_range = _int_range(peaks_per_study, "peaks_per_study", caller)
    sentence_range = _int_range(n_sentences, "n_sentences", caller)
    if mixture_concentration is not None:
        mixture_concentration = float(
            check_param(
                mixture_concentration,
                "mixture_concentration",
                caller,
                [Interval(float, 0.0, None, closed="neither")],
            )
        )
    noise_peaks = float(
        check_param(noise_peaks, "noise_peaks", caller, [Interval(float, 0.0, 1.0)])
    )
    spread_mm = float(
        check_param(spread_mm, "spread_mm", caller, [Interval(float, 0.0, None)])
    )
    topic_word_rate = float(
        check_param(
            topic_word_rate,
            "topic_word_rate",
            caller,
            [Interval(float, 0.0, 1.0, closed="right")],
        )
    )
    if return_type not in ("dict", "dataset", "studyset"):
        raise ValueError(
            f"The 'return_type' parameter of {caller} must be one of 'dict', "
            f"'dataset', 'studyset'. Got {return_type!r} instead."
        )
    rng = check_random_state(random_state)

    topics = _make_topics(n_topics, rng)
    words, centers = list(topics["words"]), list(topics["centers"])
    studies = {}
    for i in range(n_studies):
        if mixture_concentration is None:
            weights = np.zeros(n_topics)
            weights[rng.randint(n_topics)] = 1.0
        else:
            weights = rng.dirichlet(np.full(n_topics, mixture_concentration))
        title, abstract = _study_text(
            weights, words, sentence_range, topic_word_rate, rng
        )
        n_peaks = rng.randint(peak_range[0], peak_range[1] + 1)
        xyz = _study_peaks(weights, centers, n_peaks, noise_peaks, spread_mm, rng)
        labels: dict[str, Any] = {"topic": topics.index[int(np.argmax(weights))]}
        labels.update(
            {
                f"topic__{name}": float(w)
                for name, w in zip(topics.index, weights, strict=True)
            }
        )
        studies[f"study{i:04d}"] = {
            "contrasts": {
                "1": {
                    "coords": {
                        "space": "MNI",
                        "x": xyz[:, 0].tolist(),
                        "y": xyz[:, 1].tolist(),
                        "z": xyz[:, 2].tolist(),
                    },
                    "text": {"title": title, "abstract": abstract},
                    "metadata": {"sample_sizes": [int(rng.randint(12, 41))]},
                    "labels": labels,
                }
            }
        }
    collection = _convert_collection(studies, return_type)
    return (collection, topics) if return_topics else collection


def _convert_collection(studies: dict, return_type: str) -> Any:
    """Turn the NiMARE dictionary into the requested NiMARE object."""
    if return_type == "dict":
        return studies
    import warnings

    from nimare.dataset import Dataset

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Dataset is deprecated.*")
        dataset = Dataset(studies)
        if return_type == "dataset":
            return dataset
        from nimare.nimads import Studyset

        return Studyset.from_dataset(dataset)


# --------------------------------------------------------------------------- #
# fMRI cohort
# --------------------------------------------------------------------------- #

# Share of the Schaefer-100 (7 networks) parcels in each network.
_NETWORK_SHARE = np.array([17, 14, 15, 12, 5, 13, 24], dtype=float) / 100.0

# Population correlation between the latent network signals (Yeo-7 order).
_NETWORK_CORR = np.array(
    [
        # Vis  SomMot DorsAt SalVen Limbic Cont  Default
        [1.00, 0.40, 0.30, 0.10, 0.05, 0.05, -0.05],
        [0.40, 1.00, 0.30, 0.25, 0.05, 0.05, -0.05],
        [0.30, 0.30, 1.00, 0.25, 0.00, 0.20, -0.25],
        [0.10, 0.25, 0.25, 1.00, 0.10, 0.30, -0.15],
        [0.05, 0.05, 0.00, 0.10, 1.00, 0.10, 0.25],
        [0.05, 0.05, 0.20, 0.30, 0.10, 1.00, 0.20],
        [-0.05, -0.05, -0.25, -0.15, 0.25, 0.20, 1.00],
    ]
)

# Time constant (s) of the AR(1) autocorrelation: phi = exp(-tr / tau).
_AR_TAU_S = 4.0
_BAND_HZ = (0.01, 0.25)


def _allocate_rois(n_rois: int) -> np.ndarray:
    """ROIs per network, proportional to Schaefer-100, at least one each."""
    counts = np.ones(len(YEO7_NETWORKS), dtype=int)
    extra = (n_rois - counts.sum()) * _NETWORK_SHARE
    counts += np.floor(extra).astype(int)
    remainder = n_rois - counts.sum()
    order = np.argsort(-(extra - np.floor(extra)), kind="stable")
    counts[order[:remainder]] += 1
    return counts


def _roi_layout(n_rois: int) -> tuple[list[str], list[str]]:
    """Schaefer-like ROI names (LH networks, then RH) and their networks."""
    counts = _allocate_rois(n_rois)
    left = (counts + 1) // 2
    labels, networks = [], []
    for hemi, per_network in (("LH", left), ("RH", counts - left)):
        for network, count in zip(YEO7_NETWORKS, per_network, strict=True):
            labels += [f"7Networks_{hemi}_{network}_{j + 1}" for j in range(count)]
            networks += [network] * count
    return labels, networks


def _colored_noise(
    n_timepoints: int, n_signals: int, tr: float, rng: np.random.RandomState
) -> np.ndarray:
    """Standardised AR(1) signals band-limited to 0.01-0.25 Hz (1/f-like)."""
    phi = np.exp(-tr / _AR_TAU_S)
    burn_in = 50
    innovations = rng.standard_normal((n_timepoints + burn_in, n_signals))
    signal = np.empty_like(innovations)
    signal[0] = innovations[0] / np.sqrt(1.0 - phi**2)
    for t in range(1, len(signal)):
        signal[t] = phi * signal[t - 1] + innovations[t]
    signal = signal[burn_in:]
    freqs = np.fft.rfftfreq(n_timepoints, d=tr)
    keep = (freqs >= _BAND_HZ[0]) & (freqs <= _BAND_HZ[1])
    if keep.sum() >= 2:  # too short a series keeps its full spectrum
        spectrum = np.fft.rfft(signal, axis=0)
        spectrum[~keep] = 0.0
        signal = np.fft.irfft(spectrum, n=n_timepoints, axis=0)
    signal -= signal.mean(axis=0)
    return signal / signal.std(axis=0)


def _subject_corr(rng: np.random.RandomState, jitter: float = 0.05) -> np.ndarray:
    """Population network correlation plus subject jitter, kept positive definite."""
    noise = rng.normal(scale=jitter, size=_NETWORK_CORR.shape)
    corr = _NETWORK_CORR + (noise + noise.T) / np.sqrt(2.0)
    np.fill_diagonal(corr, 1.0)
    values, vectors = np.linalg.eigh(corr)
    corr = (vectors * np.clip(values, 1e-3, None)) @ vectors.T
    scale = np.sqrt(np.diag(corr))
    return corr / np.outer(scale, scale)


def _coupling_weight(effect: float, base: float) -> float:
    """Weight of a shared signal changing a correlation ``base`` by ``effect``."""
    if effect >= 0:
        return float(np.sqrt(effect / (1.0 - base - effect)))
    return float(np.sqrt(-effect / (1.0 + base + effect)))


def _subject_timeseries(
    n_timepoints: int,
    tr: float,
    roi_network: np.ndarray,
    loadings: np.ndarray,
    pair: tuple[int, int],
    effect: float,
    rng: np.random.RandomState,
) -> np.ndarray:
    """Latent network model of one subject (n_timepoints, n_rois)."""
    n_networks = len(YEO7_NETWORKS)
    corr = _subject_corr(rng)
    factors = _colored_noise(n_timepoints, n_networks, tr, rng)
    factors = factors @ np.linalg.cholesky(corr).T
    if effect != 0.0:
        a, b = pair
        weight = _coupling_weight(effect, _NETWORK_CORR[a, b])
        shared = _colored_noise(n_timepoints, 1, tr, rng)[:, 0] * weight
        factors[:, a] = (factors[:, a] + shared) / np.sqrt(1.0 + weight**2)
        sign = 1.0 if effect > 0 else -1.0
        factors[:, b] = (factors[:, b] + sign * shared) / np.sqrt(1.0 + weight**2)
    noise = _colored_noise(n_timepoints, len(roi_network), tr, rng)
    return loadings * factors[:, roi_network] + np.sqrt(1.0 - loadings**2) * noise


def _phenotypes(
    n_subjects: int, n_groups: int, n_sites: int, rng: np.random.RandomState
) -> pd.DataFrame:
    """Balanced groups and sites, random sex and age."""
    groups = rng.permutation(np.arange(n_subjects) % n_groups)
    sites = rng.permutation(np.arange(n_subjects) % n_sites)
    if n_groups == 2:
        names = ["control", "patient"]
    else:
        names = ["control"] + [f"patient_{g}" for g in range(1, n_groups)]
    return pd.DataFrame(
        {
            "subject_id": [f"sub-{i + 1:03d}" for i in range(n_subjects)],
            "group": groups,
            "diagnosis": [names[g] for g in groups],
            "sex": rng.choice(["M", "F"], size=n_subjects),
            "age": np.round(rng.uniform(18.0, 65.0, size=n_subjects), 1),
            "site": [f"site-{s + 1}" for s in sites],
        }
    )


def _check_effect(
    effect_size: Any, effect_networks: Any, caller: str
) -> tuple[float, tuple[int, int]]:
    """Validate the planted effect; return it and the indices of the networks."""
    if (
        not isinstance(effect_networks, Sequence)
        or isinstance(effect_networks, str)
        or len(effect_networks) != 2
        or any(n not in YEO7_NETWORKS for n in effect_networks)
        or effect_networks[0] == effect_networks[1]
    ):
        raise ValueError(
            f"The 'effect_networks' parameter of {caller} must be a pair of two "
            f"different networks among {list(YEO7_NETWORKS)}. "
            f"Got {effect_networks!r} instead."
        )
    pair = (
        YEO7_NETWORKS.index(effect_networks[0]),
        YEO7_NETWORKS.index(effect_networks[1]),
    )
    base = _NETWORK_CORR[pair]
    effect_size = float(
        check_param(
            effect_size,
            "effect_size",
            caller,
            [Interval(float, -(1.0 + base), 1.0 - base, closed="neither")],
        )
    )
    return effect_size, pair


def make_fmri_cohort(
    n_subjects: int = 40,
    n_rois: int = 100,
    n_timepoints: int = 160,
    t_r: float = 2.0,
    n_groups: int = 2,
    effect_size: float = 0.3,
    *,
    effect_networks: tuple[str, str] = ("Default", "Cont"),
    n_sites: int = 1,
    site_effect: float = 0.5,
    random_state: int | np.random.RandomState | None = None,
    tr: float | None = None,
) -> Bunch:
    """Make resting-state ROI time series of a cohort with a planted group effect.

    ROIs are assigned to the seven Yeo networks (in the proportions of the
    Schaefer-100 parcellation) and named like Schaefer parcels
    (``"7Networks_LH_Vis_1"``), so that
    :func:`~brainlm_decode.datasets.parse_network_names` recovers their
    networks. For each subject, seven latent network signals are drawn with
    AR(1) temporal autocorrelation (time constant 4 s), band-limited to
    0.01-0.25 Hz (a 1/f-like spectrum), and mixed to have the population
    network correlation plus subject-specific jitter. Each ROI is its network
    signal times a loading in [0.55, 0.85] plus independent noise of the same
    spectrum.

    The planted effect: in group ``g`` (``g >= 1``), the correlation between
    the latent signals of the two ``effect_networks`` is changed by
    ``effect_size * g / (n_groups - 1)``; group 0 (``"control"``) keeps the
    population correlation. The ROI-level connectivity between the two
    networks changes accordingly (attenuated by the loadings).

    Parameters
    ----------
    n_subjects : int, default=40
        Number of subjects; at least ``n_groups`` and ``n_sites``.
    n_rois : int, default=100
        Number of ROIs, at least 7 (one per network).
    n_timepoints : int, default=160
        Number of time points per subject.
    t_r : float, default=2.0
        Repetition time, in seconds.
    n_groups : int, default=2
        Number of diagnostic groups, of balanced sizes. Group 0 is the control
        group.
    effect_size : float, default=0.3
        Change of the latent correlation between ``effect_networks`` in the
        last group: positive for hyper-connectivity, negative for
        hypo-connectivity. Must keep the correlation within (-1, 1).
    effect_networks : (str, str), default=("Default", "Cont")
        The two networks whose connectivity differs between groups, among
        ``"Vis"``, ``"SomMot"``, ``"DorsAttn"``, ``"SalVentAttn"``,
        ``"Limbic"``, ``"Cont"``, ``"Default"``.
    n_sites : int, default=1
        Number of acquisition sites, balanced across subjects.
    site_effect : float, default=0.5
        When ``n_sites > 1``, standard deviation of the log of the site-wise
        signal scale (each ROI also gets a small site-specific scale and the
        site an offset), to exercise site-wise normalisation.
    random_state : int, numpy.random.RandomState or None, default=None
        Seed or random number generator, for reproducible output.
    tr : float or None, default=None
        Deprecated name of ``t_r`` (FutureWarning); removed in the next release.

    Returns
    -------
    cohort : sklearn.utils.Bunch
        Dictionary-like object with:

        - ``timeseries``: :obj:`list` of arrays of shape
          (n_timepoints, n_rois), one per subject.
        - ``phenotypes``: :class:`pandas.DataFrame` with columns
          ``subject_id``, ``group`` (int), ``diagnosis`` (``"control"``,
          ``"patient"``...), ``sex`` (``"M"``/``"F"``), ``age`` and ``site``.
        - ``networks``: :obj:`list` of :obj:`str`, network of each ROI.
        - ``roi_labels``: :obj:`list` of :obj:`str`, Schaefer-like ROI names.
        - ``t_r``: :obj:`float`, repetition time in seconds (also under the
          deprecated key ``tr``, for one release).
        - ``effect``: :obj:`dict` describing the planted effect (``networks``,
          ``effect_size``, ``per_group`` change of latent correlation,
          ``baseline_correlation``).
        - ``description``: :obj:`str`, the planted effect in words.

    Raises
    ------
    ValueError
        If an argument is invalid.

    See Also
    --------
    make_studies_collection : synthetic meta-analytic corpus.

    Examples
    --------
    >>> from brainlm_decode.datasets import make_fmri_cohort
    >>> cohort = make_fmri_cohort(n_subjects=4, n_rois=20, random_state=0)
    >>> cohort.timeseries[0].shape
    (160, 20)
    >>> cohort.phenotypes["diagnosis"].value_counts().sort_index().to_dict()
    {'control': 2, 'patient': 2}
    """
    caller = "make_fmri_cohort"
    n_groups = int(check_param(n_groups, "n_groups", caller, [_POSITIVE_INT]))
    n_sites = int(check_param(n_sites, "n_sites", caller, [_POSITIVE_INT]))
    n_subjects = int(
        check_param(
            n_subjects,
            "n_subjects",
            caller,
            [Interval(int, max(n_groups, n_sites), None)],  # max(n_groups, n_sites)
        )
    )
    n_rois = int(
        check_param(n_rois, "n_rois", caller, [Interval(int, len(YEO7_NETWORKS), None)])
    )
    n_timepoints = int(
        check_param(n_timepoints, "n_timepoints", caller, [Interval(int, 2, None)])
    )
    if tr is not None:
        warnings.warn(
            f"The 'tr' parameter of {caller} was renamed 't_r'; 'tr' will be removed "
            "in the next release.",
            FutureWarning,
            stacklevel=2,
        )
        t_r = tr
    tr = float(
        check_param(t_r, "t_r", caller, [Interval(float, 0.0, None, closed="neither")])
    )
    site_effect = float(
        check_param(site_effect, "site_effect", caller, [Interval(float, 0.0, None)])
    )
    effect_size, pair = _check_effect(effect_size, effect_networks, caller)
    rng = check_random_state(random_state)

    roi_labels, networks = _roi_layout(n_rois)
    roi_network = np.array([YEO7_NETWORKS.index(n) for n in networks])
    loadings = rng.uniform(0.55, 0.85, size=n_rois)
    phenotypes = _phenotypes(n_subjects, n_groups, n_sites, rng)
    per_group = [effect_size * g / max(n_groups - 1, 1) for g in range(n_groups)]

    site_scale = np.ones((n_sites, n_rois))
    site_offset = np.zeros((n_sites, n_rois))
    if n_sites > 1 and site_effect > 0:
        site_scale = np.exp(
            rng.normal(scale=site_effect, size=(n_sites, 1))
            + rng.normal(scale=0.1 * site_effect, size=(n_sites, n_rois))
        )
        site_offset = rng.normal(scale=site_effect, size=(n_sites, 1)) * np.ones(
            (1, n_rois)
        )
    site_index = phenotypes["site"].str.removeprefix("site-").astype(int) - 1

    timeseries = []
    for group, site in zip(phenotypes["group"], site_index, strict=True):
        series = _subject_timeseries(
            n_timepoints, tr, roi_network, loadings, pair, per_group[group], rng
        )
        timeseries.append(series * site_scale[site] + site_offset[site])

    names = [YEO7_NETWORKS[pair[0]], YEO7_NETWORKS[pair[1]]]
    direction = "stronger" if effect_size >= 0 else "weaker"
    description = (
        f"Synthetic cohort: {n_subjects} subjects, {n_rois} ROIs, {n_timepoints} "
        f"time points at TR {tr} s, {n_groups} group(s), {n_sites} site(s). "
        f"Planted effect: {direction} connectivity between the {names[0]} and "
        f"{names[1]} networks in the patient group(s); the latent correlation "
        f"changes by {effect_size:+.2f} in the last group (linear across groups, "
        f"baseline {_NETWORK_CORR[pair]:+.2f})."
    )
    return Bunch(
        timeseries=timeseries,
        phenotypes=phenotypes,
        networks=networks,
        roi_labels=roi_labels,
        t_r=tr,
        tr=tr,
        effect={
            "networks": tuple(names),
            "effect_size": effect_size,
            "per_group": per_group,
            "baseline_correlation": float(_NETWORK_CORR[pair]),
        },
        description=description,
    )
