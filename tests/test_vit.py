"""utils/vit.py: attention by hand equals PyTorch's (and a transposed weight or a dropped scale is caught),
patches, the pre-norm block, and the vision transformer's shapes, class token and positions (chapter 15)."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import utils.vit
from utils.vit import (Block, MultiHeadSelfAttention, PatchEmbedding, VisionTransformer, attention,
                       attention_weights, load_from_torch, patchify, to_torch)

GENERATOR = torch.Generator().manual_seed(0)
TOKENS = torch.randn(3, 7, 16, generator=GENERATOR)


def torch_pair(dim=16, heads=4, bias=True):
    torch.manual_seed(1)
    theirs = nn.MultiheadAttention(dim, heads, bias=bias, batch_first=True).eval()
    with torch.no_grad():  # PyTorch starts the biases at zero: random ones test that they are copied
        for parameter in theirs.parameters():
            parameter.add_(0.1 * torch.randn_like(parameter))
    return load_from_torch(MultiHeadSelfAttention(dim, heads, bias=bias), theirs), theirs


def differs_from_torch(mine, theirs, x=TOKENS) -> float:
    with torch.no_grad():
        return float((mine(x) - theirs(x, x, x, need_weights=False)[0]).abs().max())


@pytest.mark.parametrize("mask", [None, "bool", "float"])
def test_hand_attention_equals_scaled_dot_product_attention(mask):
    q, k, v = torch.randn(3, 2, 4, 6, 8, generator=GENERATOR).unbind(0)
    if mask == "bool":
        mask = (torch.rand(6, 6, generator=GENERATOR) > 0.4) | torch.eye(6, dtype=torch.bool)
    elif mask == "float":
        mask = torch.randn(6, 6, generator=GENERATOR)
    torch.testing.assert_close(attention(q, k, v, mask), F.scaled_dot_product_attention(q, k, v, attn_mask=mask))


def test_attention_weights_are_rows_of_probabilities_and_respect_the_mask():
    q, k = torch.randn(2, 5, 4, generator=GENERATOR), torch.randn(2, 5, 4, generator=GENERATOR)
    causal = torch.ones(5, 5, dtype=torch.bool).tril()
    weights = attention_weights(q, k, causal)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 5))
    assert not weights[:, ~causal].any()


@pytest.mark.parametrize("bias", [True, False])
def test_copied_weights_give_nn_multiheadattention_s_outputs_and_weights(bias):
    mine, theirs = torch_pair(bias=bias)
    assert differs_from_torch(mine, theirs) < 1e-6
    with torch.no_grad():
        out, weights = mine(TOKENS, return_weights=True)
        their_out, their_weights = theirs(TOKENS, TOKENS, TOKENS, average_attn_weights=False)
    torch.testing.assert_close(weights, their_weights, atol=1e-6, rtol=0)
    torch.testing.assert_close(out, their_out, atol=1e-6, rtol=0)


def test_to_torch_gives_back_a_multiheadattention_with_the_same_outputs():
    mine, _ = torch_pair()
    assert differs_from_torch(mine, to_torch(mine).eval()) < 1e-6


def test_the_comparison_catches_a_transposed_weight_and_a_dropped_scale(monkeypatch):
    mine, theirs = torch_pair()
    with torch.no_grad():  # W_q, W_k and W_v each transposed: the mistake of copying x @ W layouts
        mine.qkv.weight.copy_(torch.cat([w.T for w in theirs.in_proj_weight.chunk(3)]))
    assert differs_from_torch(mine, theirs) > 1e-3
    mine, theirs = torch_pair()
    monkeypatch.setattr(utils.vit.math, "sqrt", lambda d: 1.0)  # attention without the 1/√d
    assert differs_from_torch(mine, theirs) > 1e-3


def test_incompatible_attention_layers_are_refused_with_the_reason():
    with pytest.raises(ValueError, match="num_heads=2"):
        load_from_torch(MultiHeadSelfAttention(16, 4), nn.MultiheadAttention(16, 2, batch_first=True))
    with pytest.raises(ValueError, match="kdim"):
        load_from_torch(MultiHeadSelfAttention(16, 4), nn.MultiheadAttention(16, 4, kdim=8, vdim=8))
    with pytest.raises(ValueError, match="multiple of heads"):
        MultiHeadSelfAttention(10, 4)


def test_patchify_numbers_patches_row_by_row_and_the_convolution_is_a_linear_layer_on_them():
    image = torch.arange(2 * 4 * 6, dtype=torch.float32).view(1, 2, 4, 6)  # 2 channels, 2×3 patches of 2×2
    patches = patchify(image, 2)
    assert patches.shape == (1, 6, 8)
    torch.testing.assert_close(patches[0, 1], image[0, :, 0:2, 2:4].flatten())  # top row, second column
    torch.testing.assert_close(patches[0, 3], image[0, :, 2:4, 0:2].flatten())  # second row, first column
    embed = PatchEmbedding(8, 4, 3, 5)
    images = torch.randn(2, 3, 8, 8, generator=GENERATOR)
    by_hand = patchify(images, 4) @ embed.proj.weight.flatten(1).T + embed.proj.bias
    torch.testing.assert_close(embed(images), by_hand)
    with pytest.raises(ValueError, match="divides both sides"):
        PatchEmbedding(10, 4, 3, 5)


def test_a_block_with_zeroed_output_layers_is_the_identity():
    block = Block(16, 4)
    with torch.no_grad():
        for layer in (block.attn.proj, block.mlp[3]):
            layer.weight.zero_()
            layer.bias.zero_()
    torch.testing.assert_close(block(TOKENS), TOKENS)


def test_vision_transformer_shapes_and_its_head_reads_the_class_token():
    torch.manual_seed(0)
    model = VisionTransformer(16, 4, dim=32, depth=2, heads=4).eval()
    images = torch.randn(5, 3, 16, 16, generator=GENERATOR)
    features = model.features(images)
    assert features.shape == (5, 1 + 16, 32) and model(images).shape == (5, 10)
    torch.testing.assert_close(model(images), model.head(features[:, 0]))
    model.train()
    model(images).sum().backward()
    assert model.cls_token.grad.abs().sum() > 0 and model.pos_embed.grad.abs().sum() > 0
    with pytest.raises(ValueError, match=r"\[batch, 3, 16, 16\]"):
        model(torch.randn(2, 3, 32, 32))


def test_without_position_embeddings_the_transformer_cannot_tell_where_a_patch_was():
    torch.manual_seed(0)
    model = VisionTransformer(8, 4, dim=16, depth=2, heads=2).eval()
    images = torch.randn(3, 3, 8, 8, generator=GENERATOR)
    swapped = images.roll(shifts=4, dims=3)  # the left and right halves (two columns of patches) swapped
    with torch.no_grad():
        assert (model(images) - model(swapped)).abs().max() > 1e-4
        model.pos_embed.zero_()
        torch.testing.assert_close(model(images), model(swapped))
