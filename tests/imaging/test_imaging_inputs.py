"""NiMARE MetaResults and image Studysets/Datasets as decoder inputs."""

from __future__ import annotations

import importlib.resources

import numpy as np
import pandas as pd
import pytest

from brainlm_decode import CLIPDecoder
from brainlm_decode.decode.persistence import list_pretrained
from brainlm_decode.imaging import mkda_map
from brainlm_decode.imaging.inputs import as_niimg, meta_result_map, resolve_maps

STUDYSET = "nback_vs_flanker_studyset_2026-07"
PEAKS = {"motor": [-38, -22, 56], "frontal": [40, 30, 30], "precuneus": [0, -60, 20]}

pytestmark = pytest.mark.skipif(
    not list_pretrained(), reason="the pretrained bundle is not built in this checkout"
)


@pytest.fixture(scope="module")
def decoder() -> CLIPDecoder:
    return CLIPDecoder.from_pretrained()


@pytest.fixture(scope="module")
def studyset():
    from nimare.studyset import Studyset

    path = importlib.resources.files("nimare") / "resources" / STUDYSET
    if not path.is_dir():
        pytest.skip(f"this NiMARE has no {STUDYSET}")
    return Studyset(str(path))


@pytest.fixture(scope="module")
def nback_result(studyset):
    """MKDADensity of the 500 n-back analyses (about 1 s)."""
    from nimare.meta.cbma import MKDADensity

    ids = list(studyset.get_analyses_by_annotations("comparison_task", "n-back"))
    return MKDADensity().fit(studyset.slice(ids))


@pytest.fixture(scope="module")
def fdr_result(nback_result):
    from nimare.correct import FDRCorrector

    return FDRCorrector(method="indep", alpha=0.05).transform(nback_result)


def test_meta_result_decodes_its_z_map_with_provenance(decoder, nback_result):
    table = decoder.transform(nback_result)
    expected = decoder.transform(nback_result.get_map("z"))
    pd.testing.assert_frame_equal(table, expected, check_like=False)
    assert table.attrs["input"] == "nimare.results.MetaResult"
    assert table.attrs["estimator"].startswith("MKDADensity(")
    assert table.attrs["corrector"] is None
    assert table.attrs["map_name"] == "z"
    results = decoder.decode(nback_result)
    assert all(results[level].attrs["map_name"] == "z" for level in results)


def test_corrected_meta_result_decodes_the_corrected_map(decoder, fdr_result):
    table = decoder.transform(fdr_result, level="concept")
    assert table.attrs["map_name"] == "z_corr-FDR_method-indep"
    assert table.attrs["corrector"] == "FDRCorrector(alpha=0.05, method='indep')"
    assert "False discovery rate" in table.attrs["description"]
    chosen = decoder.transform(fdr_result, level="concept", map_name="z")
    assert chosen.attrs["map_name"] == "z"
    assert not np.allclose(
        table["probability"].sort_index(), chosen["probability"].sort_index()
    )


def test_fwe_default_map_is_the_cluster_size_corrected_z(nback_result):
    from nimare.correct import FWECorrector

    corrected = FWECorrector(method="montecarlo", n_iters=5, n_cores=1).transform(
        nback_result
    )
    _, provenance = meta_result_map(corrected)
    assert provenance["map_name"] == (
        "z_desc-size_level-cluster_corr-FWE_method-montecarlo"
    )
    assert provenance["corrector"].startswith("FWECorrector(")


def test_missing_map_name_lists_the_available_maps(decoder, fdr_result):
    with pytest.raises(ValueError, match="Available maps") as info:
        decoder.transform(fdr_result, map_name="z_corr-FWE")
    assert "'z_corr-FDR_method-indep'" in str(info.value)
    assert "'logp'" in str(info.value)


def test_map_name_with_a_plain_image_is_a_type_error(decoder):
    with pytest.raises(TypeError, match="'map_name' argument"):
        decoder.transform(mkda_map(np.array([PEAKS["motor"]])), map_name="z")
    img = mkda_map(np.array([PEAKS["motor"]]))
    assert resolve_maps(img) is None
    assert as_niimg(img) == (img, {})


def test_list_of_meta_results_gives_tables_with_their_provenance(
    decoder, nback_result, fdr_result
):
    tables = decoder.transform([nback_result, fdr_result])
    assert [t.attrs["map_name"] for t in tables] == ["z", "z_corr-FDR_method-indep"]


def _image_dataset(tmp_path):
    from nimare.dataset import Dataset

    source = {}
    for name, peak in PEAKS.items():
        path = tmp_path / f"{name}.nii.gz"
        mkda_map(np.array([peak])).to_filename(path)
        coords = {"space": "MNI", "x": [peak[0]], "y": [peak[1]], "z": [peak[2]]}
        source[name] = {
            "contrasts": {"c1": {"coords": coords, "images": {"z": str(path)}}}
        }
    coords = {"space": "MNI", "x": [0], "y": [0], "z": [0]}
    source["peaks_only"] = {"contrasts": {"c1": {"coords": coords}}}
    return Dataset(source)


@pytest.mark.parametrize("kind", ["Dataset", "Studyset"])
def test_image_collection_is_decoded_analysis_by_analysis(decoder, tmp_path, kind):
    from nimare.studyset import Studyset

    dset = _image_dataset(tmp_path)
    collection = dset if kind == "Dataset" else Studyset.from_dataset(dset)
    with pytest.warns(UserWarning, match="1 of 4 analyses have no 'z' image"):
        results = decoder.decode(collection)
    tasks = results["task"]
    assert tasks.index.names == ["analysis_id", "task"]
    ids = sorted(f"{name}-c1" for name in PEAKS)  # the collection's order
    assert list(tasks.index.get_level_values(0).unique()) == ids
    assert tasks.attrs["map_name"] == "z" and tasks.attrs["n_analyses"] == 3
    assert tasks.attrs["skipped_analyses"] == ["peaks_only-c1"]
    assert tasks.attrs["input"] == f"nimare.{kind}"
    for name in PEAKS:
        alone = decoder.transform(tmp_path / f"{name}.nii.gz")
        part = tasks.loc[f"{name}-c1"]
        pd.testing.assert_frame_equal(  # float32 batches: equal up to rounding
            part.drop(columns="rank").sort_index(),
            alone.sort_index(),
            check_index_type=False,
            atol=1e-5,
        )
        assert part["rank"].tolist() == list(range(1, len(alone) + 1))
        assert part["posterior"].is_monotonic_decreasing
    domains = decoder.transform(collection, level="domain")
    assert domains.index.names == ["analysis_id", "domain"]


def test_image_collection_errors(decoder, studyset, tmp_path):
    with pytest.raises(ValueError, match="no images.*MKDADensity"):
        decoder.transform(studyset)
    with pytest.raises(ValueError, match=r"Available image types: \['z'\]"):
        decoder.transform(_image_dataset(tmp_path), map_name="t")


def test_nback_meta_analysis_ranks_working_memory_in_top_5(decoder, fdr_result):
    """The n-back map puts a working-memory task or concept in its top 5.

    Measured with the pretrained bundle (FDR-corrected MKDADensity of the 500
    n-back analyses): the task "working memory fMRI task paradigm" ranks 4th and
    the concept "updating" (Cognitive Atlas: "the revision or refreshing of
    information that is maintained in working memory") 4th; "n-back task" ranks
    23rd and the concept "working memory" 10th. The top-5 tasks pass through the
    *name* of that task: in the Cognitive Atlas it is not linked to the concept
    "working memory".
    """
    results = decoder.decode(fdr_result)
    top_tasks = [t.lower() for t in results["task"].index[:5]]
    top_concepts = list(results["concept"].index[:5])
    wm_tasks = [t for t in top_tasks if "working memory" in t or "n-back" in t]
    wm_concepts = [c for c in top_concepts if c in ("working memory", "updating")]
    assert wm_tasks or wm_concepts, (top_tasks, top_concepts)
