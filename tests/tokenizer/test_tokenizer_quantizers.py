"""VQ and FSQ quantizers: call contract, k-means init, EMA, dead codes, plugins."""

from __future__ import annotations

import pytest
import torch
from sklearn.base import clone

from brainlm_decode.plugins import get_plugin, list_plugins
from brainlm_decode.tokenizer.quantizers import (
    FiniteScalarQuantizer,
    VectorQuantizer,
    codebook_usage,
    spherical_kmeans,
)


def _clusters(n_clusters=4, per=50, dim=8, seed=0):
    gen = torch.Generator().manual_seed(seed)
    centres = torch.nn.functional.normalize(torch.randn(n_clusters, dim, generator=gen))
    points = centres.repeat_interleave(per, 0) + 0.01 * torch.randn(
        n_clusters * per, dim, generator=gen
    )
    return centres, points


@pytest.mark.parametrize(
    "quantizer",
    [
        VectorQuantizer(dim=8, codebook_size=16),
        VectorQuantizer(dim=8, codebook_size=16, codebook_dim=4),
        FiniteScalarQuantizer(dim=8, levels=(8, 5, 5, 5)),
        FiniteScalarQuantizer(dim=4, levels=(8, 5, 5, 5)),
    ],
    ids=["vq", "vq-factorised", "fsq", "fsq-no-projection"],
)
def test_indices_in_range_and_decode_equals_quantized(quantizer):
    torch.manual_seed(0)
    dim = quantizer.dim
    quantizer.train()
    quantizer(torch.randn(64, dim))  # initialise (k-means for VQ)
    quantizer.eval()
    x = torch.randn(3, 7, dim) * 2
    quantized, indices, aux = quantizer(x)
    assert quantized.shape == x.shape and indices.shape == (3, 7)
    assert indices.dtype == torch.long and aux.shape == ()
    assert 0 <= int(indices.min()) and int(indices.max()) < quantizer.codebook_size
    assert torch.equal(quantizer.decode(indices), quantized)
    assert torch.equal(quantizer.get_codes_from_indices(indices), quantized)
    with pytest.raises(ValueError, match="must lie in"):
        quantizer.decode(torch.tensor([quantizer.codebook_size]))


def test_vq_training_forward_value_matches_codes_and_gradients_pass_straight():
    torch.manual_seed(0)
    vq = (
        VectorQuantizer(dim=8, codebook_size=16, dead_code_threshold=0.0)
        .build()
        .train()
    )
    x = torch.randn(40, 8, requires_grad=True)
    quantized, indices, aux = vq(x)
    codes = vq.embed[indices]  # EMA moved the codes a little after the lookup
    assert torch.allclose(quantized, codes, atol=0.05)
    assert float(aux.detach()) > 0
    (quantized.sum() + aux).backward()
    assert (
        x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    )


def test_vq_kmeans_init_finds_the_clusters():
    torch.manual_seed(0)
    centres, points = _clusters()
    vq = (
        VectorQuantizer(dim=8, codebook_size=16, dead_code_threshold=0.0)
        .build()
        .train()
    )
    assert not bool(vq.initted)
    vq(points)
    assert bool(vq.initted)
    similarity = vq.embed @ centres.T  # every centre has a code at cosine ~1
    assert float(similarity.max(dim=0).values.min()) > 0.99
    # the EMA statistics start from the k-means cluster sizes
    assert float(vq.cluster_size.sum()) == pytest.approx(200, rel=0.05)


def test_spherical_kmeans_returns_unit_means_and_counts():
    torch.manual_seed(0)
    _, points = _clusters()
    means, counts = spherical_kmeans(torch.nn.functional.normalize(points), 4)
    torch.testing.assert_close(means.norm(dim=1), torch.ones(4))
    assert int(counts.sum()) == 200


def test_vq_ema_update_changes_codes_in_training_only():
    torch.manual_seed(0)
    vq = (
        VectorQuantizer(dim=8, codebook_size=8, dead_code_threshold=0.0).build().train()
    )
    vq(torch.randn(64, 8))
    before = vq.embed.clone()
    vq.eval()
    vq(torch.randn(64, 8) + 3)
    assert torch.equal(vq.embed, before)  # eval: no update
    vq.train()
    sizes = vq.cluster_size.clone()
    vq(torch.randn(64, 8) + 3)
    assert not torch.equal(vq.embed, before)
    assert not torch.equal(vq.cluster_size, sizes)
    torch.testing.assert_close(vq.embed.norm(dim=1), torch.ones(8))


def test_vq_reseeds_dead_codes_from_the_batch():
    torch.manual_seed(0)
    vq = VectorQuantizer(dim=8, codebook_size=8, kmeans_init=False).build().train()
    vq.cluster_size.fill_(10.0)
    vq.cluster_size[[2, 5]] = 0.0  # two codes never used
    x = torch.randn(30, 8)
    vq(x)
    inputs = torch.nn.functional.normalize(x)
    for code in (2, 5):
        distances = (inputs - vq.embed[code]).norm(dim=1)
        assert float(distances.min()) < 1e-5  # the code is now a batch input
        assert float(vq.cluster_size[code]) >= vq.dead_code_threshold


def test_fsq_grid_covers_every_code_and_has_no_aux_loss():
    fsq = FiniteScalarQuantizer(dim=3, levels=(3, 4, 2))
    assert fsq.codebook_size == 24
    all_codes = fsq.decode(torch.arange(24))
    _, indices, aux = fsq.eval()(all_codes * 3)  # beyond the bound: saturates
    assert float(aux) == 0.0
    grid = torch.cartesian_prod(
        torch.linspace(-9, 9, 301), torch.linspace(-9, 9, 61), torch.tensor([-9.0, 9.0])
    )
    _, indices, _ = fsq(grid)
    assert set(indices.tolist()) == set(range(24))


def test_fsq_straight_through_gradient():
    fsq = FiniteScalarQuantizer(dim=6, levels=(5, 5)).train()
    x = torch.randn(10, 6, requires_grad=True)
    fsq(x)[0].sum().backward()
    assert x.grad.abs().sum() > 0


def test_quantizers_are_plugins_and_estimators():
    assert {"vq", "fsq"} <= set(list_plugins("quantizers"))
    vq = get_plugin("quantizers", "vq", codebook_size=64)
    assert isinstance(vq, VectorQuantizer) and vq.codebook_size == 64
    assert vq.dim is None
    with pytest.raises(ValueError, match="with_dim"):
        vq(torch.randn(2, 4))
    built = vq.with_dim(4)
    assert built.embed.shape == (64, 4) and vq.dim is None
    copy = clone(FiniteScalarQuantizer(levels=[8, 8]))
    assert copy.get_params()["levels"] == [8, 8]
    with pytest.raises(ValueError, match="'levels'"):
        FiniteScalarQuantizer(dim=4, levels=[1, 4]).build()
    with pytest.raises(ValueError, match="'decay'"):
        VectorQuantizer(dim=4, decay=1.5).build()


def test_codebook_usage():
    assert codebook_usage([0, 0, 1, 1], 4) == (2.0, 0.5)
    perplexity, dead = codebook_usage(list(range(8)), 8)
    assert perplexity == pytest.approx(8) and dead == 0.0
