"""PVSE encoders, PIE-Net and the registered method: shapes, masking, gradients, ablations."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mrw.core.errors import MRWError
from mrw.methods.base import Batch, MethodContext
from mrw.methods.encoders import BiGRU, ImageEncoder, TextEncoder, VideoEncoder
from mrw.methods.registry import create_method, list_methods, make_config
from pvse.losses import mil_similarity
from pvse.method import PVSE
from pvse.pie_net import PIENet

FEATURES, VOCAB = 12, 40
SMALL = {"embed_dim": 8, "hidden_dim": 10, "word_dim": 6}
ABLATIONS = [
    {},
    {"k": 0},
    {"k": 1},
    {"k": 3, "no_global": True},
    {"no_residual": True},
    {"no_mil": True},
    {"relative_weighting": True, "mmd_kernel": "distance"},
    {"visual": "image"},
    {"max_violation": False, "hidden_dim": 8},  # H == D: no projection layer
    {"div_on": "attention"},
]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny tensors: with 2 contended cores, OpenMP hand-offs cost far more than the maths."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def make_batch(batch_size: int = 5, frames: int = 6, words: int = 7, seed: int = 0) -> Batch:
    generator = torch.Generator().manual_seed(seed)
    video_lengths = torch.randint(1, frames + 1, (batch_size,), generator=generator)
    token_lengths = torch.randint(1, words + 1, (batch_size,), generator=generator)
    video = torch.randn(batch_size, frames, FEATURES, generator=generator)
    tokens = torch.randint(1, VOCAB, (batch_size, words), generator=generator)
    steps = torch.arange(frames)
    video = video * (steps[None, :] < video_lengths[:, None])[..., None]
    tokens = tokens * (torch.arange(words)[None, :] < token_lengths[:, None])
    return Batch(video, video_lengths, tokens, token_lengths, torch.arange(batch_size))


def make_pvse(**overrides) -> PVSE:
    torch.manual_seed(0)
    context = MethodContext(feature_dim=FEATURES, vocab_size=VOCAB, num_train_pairs=5)
    return create_method("pvse", context, {**SMALL, **overrides})


def test_pvse_is_registered_with_paper_defaults() -> None:
    assert "pvse" in list_methods()
    config = make_config("pvse")
    assert (config.k, config.embed_dim, config.hidden_dim, config.word_dim) == (5, 1024, 1024, 300)
    assert (config.margin, config.max_violation, config.div_weight, config.mmd_weight) == (
        0.1,
        True,
        0.1,
        0.01,
    )
    assert config.mmd_kernel == "squared"


@pytest.mark.parametrize(
    "overrides",
    [
        {"k": -1},
        {"k": 0, "no_global": True},
        {"no_global": True, "no_residual": True},
        {"hidden_dim": 7},
        {"mmd_kernel": "laplace"},
        {"dropout": 1.0},
        {"div_on": "embeddings"},
    ],
)
def test_contradictory_or_invalid_options_are_one_line_errors(overrides) -> None:
    with pytest.raises(MRWError, match="^pvse: "):
        make_config("pvse", overrides)


@pytest.mark.parametrize(
    "overrides", ABLATIONS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "default"
)
def test_every_pvse_parameter_learns_in_every_ablation(overrides) -> None:
    model = make_pvse(**overrides)
    terms = model.loss(make_batch())
    assert torch.isfinite(terms["total"])
    terms["total"].backward()
    silent = [
        name
        for name, p in model.named_parameters()
        if p.requires_grad and (p.grad is None or not p.grad.abs().sum() > 0)
    ]
    assert silent == []


@pytest.mark.parametrize(
    ("overrides", "k", "dim"),
    [
        ({}, 5, 8),
        ({"k": 0}, 1, 8),
        ({"k": 2, "no_residual": True}, 2, 16),
        ({"k": 3, "no_mil": True}, 1, 24),
    ],
)
def test_embedding_shapes_and_unit_norm(overrides, k, dim) -> None:
    model = make_pvse(**overrides).eval()
    batch = make_batch()
    with torch.no_grad():
        video = model.encode_video(batch.video, batch.video_lengths)
        text = model.encode_text(batch.tokens, batch.token_lengths)
    assert video.shape == (5, k, dim) and text.shape == (5, k, dim)
    torch.testing.assert_close(video.norm(dim=-1), torch.ones(5, k))
    torch.testing.assert_close(model.similarity(video, text), mil_similarity(video, text))


def test_loss_terms_follow_the_options() -> None:
    batch = make_batch()
    assert set(make_pvse().loss(batch)) == {"mil", "div", "mmd", "total"}
    assert set(make_pvse(k=1).loss(batch)) == {"mil", "mmd", "total"}  # one head: no diversity
    assert set(make_pvse(k=1, mmd_at_k1=False).loss(batch)) == {"mil", "total"}  # the reference's
    assert set(make_pvse(k=2, mmd_at_k1=False).loss(batch)) == {"mil", "div", "mmd", "total"}
    assert set(make_pvse(div_weight=0.0, mmd_weight=0.0).loss(batch)) == {"mil", "total"}
    terms = make_pvse(div_weight=0.0, mmd_weight=0.0).loss(batch)
    assert terms["total"].item() == terms["mil"].item()


def test_diversity_on_attention_is_lins_penalty_on_both_pie_nets() -> None:
    batch = make_batch()
    model = make_pvse(k=3, div_on="attention", mmd_weight=0.0)
    pooled = []
    for net in (model.visual_head.pie_net, model.text_head.pie_net):
        net.attention.register_forward_hook(lambda _m, _i, out: pooled.append(out[1]))
    terms = model.loss(batch)
    video_alpha, text_alpha = pooled  # [B, K, T] attention maps, rows sum to 1
    expected = sum(
        (torch.linalg.matrix_norm(a @ a.transpose(1, 2) - torch.eye(3)).mean() / 9)
        for a in (video_alpha, text_alpha)
    )
    torch.testing.assert_close(terms["div"], expected)
    # The residual form differs: it normalises and acts on Υ, whose gradient reaches fc.
    residual = make_pvse(k=3, mmd_weight=0.0).loss(batch)["div"]
    assert not torch.isclose(residual, terms["div"])
    terms["div"].backward()
    assert model.visual_head.pie_net.attention.w2.weight.grad.abs().sum() > 0
    assert model.visual_head.pie_net.fc.weight.grad is None  # α does not depend on fc


def test_loss_weights_scale_with_the_batch_only_for_summed_negatives() -> None:
    batch = make_batch()  # B = 5
    summed = make_pvse(k=3, max_violation=False).loss(batch)
    expected = summed["mil"] + 5 * (0.1 * summed["div"] + 0.01 * summed["mmd"])
    torch.testing.assert_close(summed["total"], expected)
    # The hardest negative already averages over anchors, as the reference: λ as given.
    for overrides in ({}, {"max_violation": False, "scale_weights_by_batch": False}):
        plain = make_pvse(k=3, **overrides).loss(batch)
        torch.testing.assert_close(
            plain["total"], plain["mil"] + 0.1 * plain["div"] + 0.01 * plain["mmd"]
        )


def test_loss_terms_are_fp32_under_autocast() -> None:
    model = make_pvse(k=2)
    batch = make_batch()
    reference = model.loss(batch)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = model.loss(batch)
    for name, value in mixed.items():
        assert value.dtype == torch.float32
        assert value.item() == pytest.approx(reference[name].item(), abs=0.05)


def test_frozen_word_vectors_stay_fixed_and_initialise_the_table() -> None:
    vectors = torch.randn(VOCAB, 6)
    context = MethodContext(FEATURES, VOCAB, 5, word_vectors=vectors)
    model = create_method("pvse", context, {**SMALL, "finetune_words": False})
    torch.testing.assert_close(model.text_encoder.embed.weight, vectors)
    assert not model.text_encoder.embed.weight.requires_grad
    model.loss(make_batch())["total"].backward()
    assert model.text_encoder.embed.weight.grad is None


def test_word_vectors_of_the_wrong_shape_are_rejected() -> None:
    with pytest.raises(ValueError, match=r"\[40, 6\]"):
        TextEncoder(VOCAB, 6, 10, word_vectors=torch.zeros(VOCAB, 5))


def test_bigru_ignores_padding_and_matches_unpadded_sequences() -> None:
    torch.manual_seed(0)
    rnn = BiGRU(4, 6)
    x = torch.randn(3, 5, 4)
    lengths = torch.tensor([5, 2, 3])
    padded = x.clone()
    padded[1, 2:] = 100.0
    padded[2, 3:] = -7.0
    out = rnn(padded, lengths)
    for i, n in enumerate(lengths.tolist()):
        torch.testing.assert_close(out[i], rnn(x[i : i + 1, :n], lengths[i : i + 1])[0])
    # The backward direction's final state is its state after reading the first frame,
    # which a plain GRU over the reversed valid frames reproduces.
    reverse = nn.GRU(4, 3, batch_first=True)
    reverse.load_state_dict(
        {k.replace("_reverse", ""): v for k, v in rnn.gru.state_dict().items() if "_reverse" in k}
    )
    _, h = reverse(x[1:2, :2].flip(1))
    torch.testing.assert_close(out[1, 3:], h[0, 0])


def test_image_encoder_global_feature_is_fc_of_the_mean_cell() -> None:
    encoder = ImageEncoder(FEATURES, 10)
    grid = torch.randn(2, 49, FEATURES)
    encoded = encoder(grid, torch.full((2,), 49))
    torch.testing.assert_close(encoded.global_, encoder.fc(grid.mean(1)))
    assert encoded.local is grid and encoded.mask.all()


def test_video_encoder_mask_and_empty_video() -> None:
    encoder = VideoEncoder(FEATURES, 10)
    encoded = encoder(torch.zeros(2, 4, FEATURES), torch.tensor([3, 0]))
    assert encoded.mask.tolist() == [[True, True, True, False], [True, False, False, False]]
    assert torch.isfinite(encoded.global_).all()


def test_pie_net_attention_ignores_padding() -> None:
    torch.manual_seed(0)
    pie = PIENet(num_embeds=3, local_dim=6, embed_dim=4).eval()
    local = torch.randn(2, 5, 6)
    mask = torch.tensor([[True] * 5, [True, True, False, False, False]])
    out = pie(torch.randn(2, 4), local, mask)
    torch.testing.assert_close(out.attention.sum(-1), torch.ones(2, 3))
    assert out.attention[1, :, 2:].abs().max() == 0
    changed = local.clone()
    changed[1, 2:] = 1e3
    torch.testing.assert_close(
        pie(out.embeddings.new_zeros(2, 4), changed, mask).embeddings[1],
        pie(out.embeddings.new_zeros(2, 4), local, mask).embeddings[1],
    )


def test_pie_net_by_hand_uniform_attention() -> None:
    """w2 = 0 gives uniform attention, so Υ = sigmoid(fc(mean of valid steps)) and
    z = L2(LayerNorm(Φ + Υ)); every head is the same."""
    pie = PIENet(num_embeds=2, local_dim=2, embed_dim=2).eval()
    with torch.no_grad():
        pie.attention.w2.weight.zero_()
        pie.fc.weight.copy_(torch.eye(2))
        pie.fc.bias.zero_()
    local = torch.tensor([[[2.0, 0.0], [0.0, 4.0], [9.0, 9.0]]])
    mask = torch.tensor([[True, True, False]])
    global_ = torch.tensor([[1.0, -1.0]])
    out = pie(global_, local, mask)
    residual = torch.sigmoid(torch.tensor([1.0, 2.0]))
    torch.testing.assert_close(out.residuals[0], residual.expand(2, 2))
    fused = global_[0] + residual  # LayerNorm over 2 values: (a - mean) / std -> ±1, then unit norm
    expected = torch.sign(fused - fused.mean()) / 2**0.5
    torch.testing.assert_close(out.embeddings[0], expected.expand(2, 2), atol=1e-3, rtol=0)


def test_a_few_steps_of_training_separate_the_pairs() -> None:
    """AMSGrad on one fixed batch: the MIL loss falls and every pair ranks its partner first."""
    model = make_pvse(k=2, mmd_weight=0.0)
    batch = make_batch(batch_size=6, seed=1)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2, amsgrad=True)
    first = model.loss(batch)["mil"].item()
    for _ in range(60):
        optimizer.zero_grad()
        model.loss(batch)["total"].backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        scores = model.similarity(
            model.encode_video(batch.video, batch.video_lengths),
            model.encode_text(batch.tokens, batch.token_lengths),
        )
        last = model.loss(batch)["mil"].item()
    assert last < first / 4
    assert scores.argmax(dim=1).tolist() == list(range(6))
