"""The tokenizer on real HCP resting-state runs (skipped without ../shared/data)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.io import loadmat

from brainlm_decode import (
    FMRIDescriptorTransformer,
    FMRITokenizer,
    ROITimeSeriesPreprocessor,
)
from brainlm_decode.descriptors.base import YEO7


def _hcp_series(folder):
    files = sorted(folder.glob("*.mat"))
    if not files:
        pytest.skip(f"no HCP runs in {folder}")
    return [np.asarray(loadmat(f)["tc"], dtype=np.float64).T for f in files]


def _data_driven_networks(data: np.ndarray) -> list[str]:
    """Seven communities of the group connectivity (AAL2 has no Yeo labels)."""
    from sklearn.cluster import KMeans

    group = np.mean([np.corrcoef(ts.T) for ts in data], axis=0)
    labels = KMeans(7, n_init=10, random_state=0).fit_predict(group)
    return [YEO7[label] for label in labels]


@pytest.mark.shared_data
@pytest.mark.filterwarnings("ignore:NormativeModel:UserWarning")
def test_hcp_tokenizer_trains_with_descriptor_texts(
    shared_data_dir, tiny_causal_lm_dir
):
    import torch

    from brainlm_decode.lm import HFBackbone

    torch.set_num_threads(1)
    series = _hcp_series(shared_data_dir / "hcp_rest")
    prep = ROITimeSeriesPreprocessor(t_r=0.72, constant_rois="warn")
    data = prep.fit_transform(series)  # TR 2 s, 160 points: 5 patches of 32
    describe = FMRIDescriptorTransformer(
        descriptors=("connectivity", "graph"),
        networks=_data_driven_networks(data),
        random_state=0,
    )
    texts = describe.fit(data).to_text(data)
    tokenizer = FMRITokenizer(
        size={"n_layers": 1, "embed_dim": 32, "n_heads": 2},
        quantizer_params={"codebook_size": 64},
        decoder_layers=1,
        backbone=HFBackbone(tiny_causal_lm_dir),
        text_encoder="minilm",
        n_epochs=4,
        learning_rate=1e-3,
        batch_size=4,
        device="cpu",
        random_state=0,
    )
    tokenizer.fit(data, texts=texts)
    assert tokenizer.alignment_terms_ == ["adversarial", "contrastive"]
    assert tokenizer.text_dim_ == 384  # all-MiniLM-L6-v2
    assert (tokenizer.n_rois_, tokenizer.n_patches_) == (94, 5)
    history = tokenizer.history_
    assert all(np.isfinite(history[k]).all() for k in ("loss", "adversarial"))
    assert history["reconstruction"][-1] < history["reconstruction"][0]
    ids = tokenizer.transform(data)
    assert ids.shape == (7, 94, 5) and 0 <= ids.min() and ids.max() < 64
    assert tokenizer.codebook_perplexity_ > 1
    assert tokenizer.inverse_transform(ids).shape == data.shape
