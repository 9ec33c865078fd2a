"""Tests of the synthetic data makers: reproducibility and planted effects."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
from scipy import stats

from brainlm_decode.datasets import (
    YEO7_NETWORKS,
    make_fmri_cohort,
    make_studies_collection,
    parse_network_names,
)


@pytest.fixture(scope="module")
def studies():
    return make_studies_collection(
        n_studies=120, n_topics=4, return_topics=True, random_state=0
    )


def _peaks(study):
    coords = study["contrasts"]["1"]["coords"]
    return np.column_stack([coords["x"], coords["y"], coords["z"]])


# --------------------------------------------------------------------------- #
# make_studies_collection
# --------------------------------------------------------------------------- #


def test_studies_structure(studies):
    collection, topics = studies
    assert len(collection) == 120
    assert list(topics.index[:2]) == ["visual perception", "motor execution"]
    assert len(topics) == 4
    for study in collection.values():
        contrast = study["contrasts"]["1"]
        assert contrast["coords"]["space"] == "MNI"
        assert 5 <= len(contrast["coords"]["x"]) <= 15
        assert contrast["text"]["abstract"] and contrast["text"]["title"]
        labels = contrast["labels"]
        assert labels["topic"] in topics.index
        assert labels[f"topic__{labels['topic']}"] == 1.0


def test_studies_reproducible():
    first = make_studies_collection(n_studies=15, random_state=3)
    assert first == make_studies_collection(n_studies=15, random_state=3)
    assert first != make_studies_collection(n_studies=15, random_state=4)
    rng = np.random.RandomState(3)
    assert make_studies_collection(n_studies=15, random_state=rng) == first


def test_peaks_inside_brain_mask(studies):
    from nilearn.datasets import load_mni152_brain_mask

    mask_img = load_mni152_brain_mask(resolution=2)
    mask = np.asanyarray(mask_img.dataobj) > 0
    xyz = np.vstack([_peaks(s) for s in studies[0].values()])
    ijk = np.rint(nib.affines.apply_affine(np.linalg.inv(mask_img.affine), xyz))
    ijk = ijk.astype(int)
    assert (ijk >= 0).all() and (ijk < mask.shape).all()
    assert mask[tuple(ijk.T)].all()
    for centers in studies[1]["centers"]:
        ijk = np.rint(nib.affines.apply_affine(np.linalg.inv(mask_img.affine), centers))
        assert mask[tuple(ijk.astype(int).T)].all()


def test_planted_location_association(studies):
    collection, topics = studies
    names = list(topics.index)
    hits = []
    for study in collection.values():
        xyz = _peaks(study)
        distances = [
            np.median(np.min(np.linalg.norm(xyz[:, None] - c[None], axis=-1), axis=1))
            for c in topics["centers"]
        ]
        truth = study["contrasts"]["1"]["labels"]["topic"]
        hits.append(names[int(np.argmin(distances))] == truth)
    assert np.mean(hits) > 0.9


def test_planted_text_association(studies):
    collection, topics = studies
    hits = []
    for study in collection.values():
        tokens = study["contrasts"]["1"]["text"]["abstract"].lower().split()
        tokens = [t.strip(".") for t in tokens]
        counts = [sum(t in words for t in tokens) for words in topics["words"]]
        truth = study["contrasts"]["1"]["labels"]["topic"]
        hits.append(topics.index[int(np.argmax(counts))] == truth)
    assert np.mean(hits) > 0.95


def test_topic_mixture_and_pseudo_topics():
    collection, topics = make_studies_collection(
        n_studies=20,
        n_topics=12,
        mixture_concentration=0.5,
        peaks_per_study=3,
        return_topics=True,
        random_state=1,
    )
    assert len(topics) == 12 and topics.index[-1] == "topic 11"
    all_words = [w for words in topics["words"] for w in words]
    assert len(all_words) == len(set(all_words))
    for study in collection.values():
        labels = study["contrasts"]["1"]["labels"]
        weights = np.array([labels[f"topic__{name}"] for name in topics.index])
        assert np.isclose(weights.sum(), 1.0)
        assert labels["topic"] == topics.index[int(np.argmax(weights))]
        assert len(study["contrasts"]["1"]["coords"]["x"]) == 3


def test_studies_as_nimare_objects():
    pytest.importorskip("nimare")
    dset = make_studies_collection(n_studies=12, return_type="dataset", random_state=0)
    from nimare.dataset import Dataset

    assert isinstance(dset, Dataset)
    assert len(dset.ids) == 12
    texts = dset.get_texts(text_type="abstract")
    assert len(texts) == 12 and all(isinstance(t, str) and t for t in texts)
    assert "topic" in dset.annotations.columns
    assert dset.coordinates["x"].notna().all()

    studyset = make_studies_collection(
        n_studies=12, return_type="studyset", random_state=0
    )
    assert len(studyset.ids) == 12
    assert studyset.get_texts(text_type="abstract") == texts


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_studies": -1}, r"'n_studies' parameter of make_studies_collection "
         r"must be an int in the range \[1, inf\). Got -1 instead"),
        ({"n_studies": 2.5}, "'n_studies'"),
        ({"n_topics": 0}, "'n_topics'"),
        ({"n_topics": True}, "'n_topics'"),
        ({"peaks_per_study": (10, 5)}, "'peaks_per_study'"),
        ({"peaks_per_study": (0, 5)}, "'peaks_per_study'"),
        ({"mixture_concentration": 0.0}, "'mixture_concentration'"),
        ({"noise_peaks": 1.5}, "'noise_peaks'"),
        ({"spread_mm": -1.0}, "'spread_mm'"),
        ({"topic_word_rate": float("nan")}, "'topic_word_rate'"),
        ({"return_type": "frame"}, "'return_type'"),
    ],
)  # fmt: skip
def test_studies_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_studies_collection(**kwargs)


# --------------------------------------------------------------------------- #
# make_fmri_cohort
# --------------------------------------------------------------------------- #


def _pair_connectivity(cohort, first, second):
    networks = np.asarray(cohort.networks)
    values = []
    for series in cohort.timeseries:
        corr = np.corrcoef(series.T)
        block = corr[np.ix_(networks == first, networks == second)]
        values.append(np.arctanh(block).mean())
    return np.array(values)


def test_cohort_structure():
    cohort = make_fmri_cohort(
        n_subjects=10, n_rois=30, n_timepoints=50, tr=1.5, random_state=0
    )
    assert len(cohort.timeseries) == 10
    assert all(ts.shape == (50, 30) for ts in cohort.timeseries)
    assert all(np.isfinite(ts).all() for ts in cohort.timeseries)
    assert cohort.tr == 1.5
    pheno = cohort.phenotypes
    assert list(pheno.columns) == [
        "subject_id",
        "group",
        "diagnosis",
        "sex",
        "age",
        "site",
    ]
    assert pheno["diagnosis"].value_counts().to_dict() == {"control": 5, "patient": 5}
    assert set(pheno["sex"]) <= {"M", "F"}
    assert pheno["age"].between(18, 65).all()
    assert parse_network_names(cohort.roi_labels) == cohort.networks
    assert set(cohort.networks) == set(YEO7_NETWORKS)
    assert len(set(cohort.roi_labels)) == 30
    assert cohort.effect["networks"] == ("Default", "Cont")
    assert "Default" in cohort.description


def test_cohort_reproducible():
    first = make_fmri_cohort(n_subjects=4, n_rois=10, n_timepoints=40, random_state=7)
    second = make_fmri_cohort(n_subjects=4, n_rois=10, n_timepoints=40, random_state=7)
    other = make_fmri_cohort(n_subjects=4, n_rois=10, n_timepoints=40, random_state=8)
    for a, b, c in zip(
        first.timeseries, second.timeseries, other.timeseries, strict=True
    ):
        np.testing.assert_array_equal(a, b)
        assert not np.allclose(a, c)
    assert first.phenotypes.equals(second.phenotypes)


def test_cohort_temporal_structure():
    cohort = make_fmri_cohort(n_subjects=2, n_rois=20, random_state=0)
    series = cohort.timeseries[0]
    lag1 = np.mean(
        [np.corrcoef(series[1:, i], series[:-1, i])[0, 1] for i in range(20)]
    )
    assert 0.3 < lag1 < 0.9  # AR(1) autocorrelation
    freqs = np.fft.rfftfreq(len(series), d=cohort.tr)
    power = (np.abs(np.fft.rfft(series - series.mean(0), axis=0)) ** 2).mean(axis=1)
    assert power[freqs < 0.01].max() < 1e-6 * power.max()  # band-limited
    low = power[(freqs >= 0.01) & (freqs < 0.05)].mean()
    high = power[freqs >= 0.15].mean()
    assert low > 3 * high  # 1/f-like decay


@pytest.mark.parametrize("effect_size", [0.3, -0.3])
def test_cohort_planted_connectivity_effect(effect_size):
    cohort = make_fmri_cohort(effect_size=effect_size, random_state=0)
    group = cohort.phenotypes["group"].to_numpy()
    planted = _pair_connectivity(cohort, "Default", "Cont")
    result = stats.ttest_ind(planted[group == 1], planted[group == 0])
    assert result.pvalue < 1e-3
    assert np.sign(result.statistic) == np.sign(effect_size)
    # another network pair does not differ
    other = _pair_connectivity(cohort, "Vis", "SomMot")
    assert stats.ttest_ind(other[group == 1], other[group == 0]).pvalue > 0.01


def test_cohort_groups_and_sites():
    cohort = make_fmri_cohort(
        n_subjects=12,
        n_rois=14,
        n_timepoints=40,
        n_groups=3,
        n_sites=3,
        site_effect=1.0,
        effect_networks=("Vis", "DorsAttn"),
        random_state=0,
    )
    pheno = cohort.phenotypes
    assert sorted(set(pheno["diagnosis"])) == ["control", "patient_1", "patient_2"]
    assert (pheno["group"].value_counts() == 4).all()
    assert (pheno["site"].value_counts() == 4).all()
    assert cohort.effect["per_group"] == pytest.approx([0.0, 0.15, 0.3])
    scales = pheno.assign(sd=[ts.std() for ts in cohort.timeseries])
    per_site = scales.groupby("site")["sd"].mean()
    assert per_site.max() / per_site.min() > 1.2  # site scaling differences


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_subjects": 0}, "'n_subjects' parameter of make_fmri_cohort"),
        ({"n_subjects": 3, "n_groups": 4}, "'n_subjects'"),
        ({"n_rois": 5}, "'n_rois'"),
        ({"n_timepoints": 1}, "'n_timepoints'"),
        ({"t_r": 0.0}, "'t_r'"),
        ({"t_r": "2"}, "'t_r'"),
        ({"n_groups": 0}, "'n_groups'"),
        ({"n_sites": -2}, "'n_sites'"),
        ({"site_effect": -0.1}, "'site_effect'"),
        ({"effect_size": 0.95}, "'effect_size'"),
        ({"effect_networks": ("Default", "Default")}, "'effect_networks'"),
        ({"effect_networks": ("Default", "Visual")}, "'effect_networks'"),
        ({"effect_networks": "Default"}, "'effect_networks'"),
    ],
)
def test_cohort_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_fmri_cohort(**kwargs)


def test_fmri_cohort_tr_renamed_t_r():
    from brainlm_decode.datasets import make_fmri_cohort

    cohort = make_fmri_cohort(n_subjects=2, n_rois=7, n_timepoints=20, t_r=0.8)
    assert cohort.t_r == 0.8 and cohort.tr == 0.8
    with pytest.warns(FutureWarning, match="renamed 't_r'"):
        old = make_fmri_cohort(n_subjects=2, n_rois=7, n_timepoints=20, tr=0.7)
    assert old.t_r == 0.7
