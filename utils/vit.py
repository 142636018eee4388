"""A small vision transformer (Dosovitskiy et al., 2021), built from scaled dot-product attention up.

Introduced in chapter 15 (efficient and modern training). The pieces, each checked against PyTorch's own:

- ``attention(q, k, v, mask)``: softmax(q kᵀ / √d) v by hand; equals
  ``torch.nn.functional.scaled_dot_product_attention``;
- ``MultiHeadSelfAttention``: one projection to queries, keys and values, the heads attending in
  parallel, an output projection. Its two Linear layers hold exactly what ``nn.MultiheadAttention``
  holds (``in_proj_weight`` stacks W_q, W_k, W_v; ``out_proj``), so ``load_from_torch(mine, theirs)``
  and ``to_torch(mine)`` copy weights either way and the outputs agree to about 1e-6;
- ``patchify`` and ``PatchEmbedding``: an image cut into p×p patches, each flattened and projected
  (a convolution with kernel = stride = p does both at once);
- ``Block``: pre-norm, x + attention(LN(x)), then x + MLP(LN(x));
- ``VisionTransformer``: patches + a learned class token + learned position embeddings → blocks →
  LayerNorm → a linear head on the class token's final state.
"""
from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["Block", "MultiHeadSelfAttention", "PatchEmbedding", "VisionTransformer", "attention",
           "attention_weights", "load_from_torch", "patchify", "to_torch"]


def attention_weights(q: torch.Tensor, k: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """softmax(q kᵀ / √d) over the keys: [..., L_q, L_k], each row summing to 1.

    ``mask`` follows ``scaled_dot_product_attention``: a boolean mask is True where a query MAY
    attend to a key (False positions get weight 0); a float mask is added to the scores. Note that
    ``nn.MultiheadAttention``'s boolean ``attn_mask`` means the opposite (True = may NOT attend).
    Introduced in chapter 15.
    """
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"queries have {q.shape[-1]} features and keys {k.shape[-1]}: q·k needs the same "
                         "size, the head dimension, on the last axis of both")
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # without the √d the softmax saturates
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else scores + mask
    return scores.softmax(dim=-1)


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Scaled dot-product attention by hand: softmax(q kᵀ / √d) v, [..., L_q, d_v].

    ``q`` is [..., L_q, d], ``k`` [..., L_k, d], ``v`` [..., L_k, d_v]; leading axes (batch, heads)
    broadcast. ``mask`` as in ``attention_weights``. Equals
    ``torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)``. Introduced in chapter 15.
    """
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"{k.shape[-2]} keys but {v.shape[-2]} values: every key needs its value")
    return attention_weights(q, k, mask) @ v


class MultiHeadSelfAttention(nn.Module):
    """Self-attention with ``heads`` heads of ``dim // heads`` features each, from scratch.

    ``qkv`` maps every token to its query, key and value at once (its weight is W_q, W_k, W_v
    stacked, as ``nn.MultiheadAttention.in_proj_weight``); the heads attend separately; their
    outputs are concatenated and mixed by ``proj`` (``out_proj``). Input and output are
    [batch, tokens, dim]. ``forward(x, return_weights=True)`` also returns the attention weights,
    [batch, heads, tokens, tokens]. Introduced in chapter 15.
    """

    def __init__(self, dim: int, heads: int, *, bias: bool = True):
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim={dim} with heads={heads}: the heads split the features evenly, so dim must be "
                             f"a multiple of heads (e.g. dim={heads * max(1, round(dim / heads))})")
        self.dim, self.heads = dim, heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=bias)
        self.proj = nn.Linear(dim, dim, bias=bias)

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        """[batch, tokens, dim] → [batch, heads, tokens, dim // heads]."""
        batch, tokens, _ = x.shape
        return x.view(batch, tokens, self.heads, self.dim // self.heads).transpose(1, 2)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, *, return_weights: bool = False):
        if x.ndim != 3 or x.shape[-1] != self.dim:
            raise ValueError(f"input of shape {tuple(x.shape)}: expected [batch, tokens, {self.dim}]")
        q, k, v = (self.split_heads(part) for part in self.qkv(x).chunk(3, dim=-1))
        weights = attention_weights(q, k, mask)
        heads = (weights @ v).transpose(1, 2).reshape(x.shape)  # concatenate the heads again
        out = self.proj(heads)
        return (out, weights) if return_weights else out


def _check_compatible(mine: MultiHeadSelfAttention, theirs: nn.MultiheadAttention) -> None:
    problems = []
    if theirs.embed_dim != mine.dim or theirs.num_heads != mine.heads:
        problems.append(f"theirs has embed_dim={theirs.embed_dim}, num_heads={theirs.num_heads}; "
                        f"mine dim={mine.dim}, heads={mine.heads}")
    if not theirs._qkv_same_embed_dim:
        problems.append("theirs has its own kdim/vdim (separate q, k, v weights): build it without kdim and vdim")
    if theirs.bias_k is not None:
        problems.append("theirs was built with add_bias_kv=True: mine has no extra key and value biases")
    if (theirs.in_proj_bias is None) != (mine.qkv.bias is None):
        problems.append("one has biases and the other not: build both with the same bias=")
    if problems:
        raise ValueError("cannot copy weights between these attention layers: " + "; ".join(problems))


@torch.no_grad()
def load_from_torch(mine: MultiHeadSelfAttention, theirs: nn.MultiheadAttention) -> MultiHeadSelfAttention:
    """Copy ``nn.MultiheadAttention``'s weights into ``mine``; returns ``mine``.

    ``in_proj_weight`` [3·dim, dim] is already W_q, W_k, W_v stacked in PyTorch's Linear layout
    (out × in), so it goes to ``qkv.weight`` as it is, untransposed; ``out_proj`` to ``proj``.
    ``theirs(x, x, x)`` (with ``batch_first=True``) then equals ``mine(x)``. Introduced in chapter 15.
    """
    _check_compatible(mine, theirs)
    mine.qkv.weight.copy_(theirs.in_proj_weight)
    mine.proj.weight.copy_(theirs.out_proj.weight)
    if mine.qkv.bias is not None:
        mine.qkv.bias.copy_(theirs.in_proj_bias)
        mine.proj.bias.copy_(theirs.out_proj.bias)
    return mine


@torch.no_grad()
def to_torch(mine: MultiHeadSelfAttention) -> nn.MultiheadAttention:
    """A new ``nn.MultiheadAttention`` (``batch_first=True``) holding ``mine``'s weights (chapter 15)."""
    theirs = nn.MultiheadAttention(mine.dim, mine.heads, bias=mine.qkv.bias is not None, batch_first=True)
    theirs.to(mine.qkv.weight.device, mine.qkv.weight.dtype)
    theirs.in_proj_weight.copy_(mine.qkv.weight)
    theirs.out_proj.weight.copy_(mine.proj.weight)
    if mine.qkv.bias is not None:
        theirs.in_proj_bias.copy_(mine.qkv.bias)
        theirs.out_proj.bias.copy_(mine.proj.bias)
    return theirs


def _check_patches(height: int, width: int, patch_size: int) -> None:
    if height % patch_size or width % patch_size:
        raise ValueError(f"images of {height}×{width} cannot be cut into {patch_size}×{patch_size} patches: "
                         "choose a patch size that divides both sides (or resize the images)")


def patchify(images: torch.Tensor, patch_size: int) -> torch.Tensor:
    """[batch, channels, H, W] → [batch, (H/p)·(W/p), channels·p·p]: each patch flattened, row by row.

    Patches are numbered left to right, top to bottom; each is flattened channel first, as a
    convolution's weight is, so ``patchify(x, p) @ conv.weight.flatten(1).T + conv.bias`` equals
    ``PatchEmbedding``'s convolution. Introduced in chapter 15.
    """
    batch, channels, height, width = images.shape
    _check_patches(height, width, patch_size)
    patches = images.unfold(2, patch_size, patch_size).unfold(3, patch_size, patch_size)  # B, C, h, w, p, p
    return patches.permute(0, 2, 3, 1, 4, 5).reshape(batch, -1, channels * patch_size * patch_size)


class PatchEmbedding(nn.Module):
    """An image as a sequence of tokens: every p×p patch flattened and projected to ``dim`` features.

    One ``Conv2d`` with kernel = stride = p does exactly ``patchify`` then a Linear layer, faster.
    [batch, channels, H, W] → [batch, (H/p)·(W/p), dim]. Introduced in chapter 15.
    """

    def __init__(self, image_size: int, patch_size: int, in_channels: int, dim: int):
        super().__init__()
        _check_patches(image_size, image_size, patch_size)
        self.image_size, self.patch_size = image_size, patch_size
        self.num_patches = (image_size // patch_size) ** 2
        self.proj = nn.Conv2d(in_channels, dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.ndim != 4 or images.shape[-2:] != (self.image_size, self.image_size):
            raise ValueError(f"images of shape {tuple(images.shape)}: this embedding was built for "
                             f"[batch, {self.proj.in_channels}, {self.image_size}, {self.image_size}]")
        return self.proj(images).flatten(2).transpose(1, 2)


class Block(nn.Module):
    """A pre-norm transformer block: x + attention(LN(x)), then x + MLP(LN(x)).

    The MLP widens to ``mlp_ratio``·dim with a GELU in between. Normalising before each sub-layer
    (not after, as the 2017 transformer did) leaves the residual path untouched, so deep stacks
    train without warm-up tricks. Introduced in chapter 15.
    """

    def __init__(self, dim: int, heads: int, *, mlp_ratio: float = 2.0, dropout: float = 0.0):
        super().__init__()
        hidden = int(dim * mlp_ratio)
        self.norm1 = nn.LayerNorm(dim)
        self.attn = MultiHeadSelfAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim),
                                 nn.Dropout(dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class VisionTransformer(nn.Module):
    """ViT: patch tokens, a class token and learned positions → ``depth`` blocks → LN → head.

    The class token is one learned vector put in front of the patch tokens; after the blocks its
    state (``features(x)[:, 0]``) has gathered what the patches say, and the head classifies it.
    Position embeddings are learned, one per token (class token included): attention alone does
    not know where a patch was. ``features(x)`` is [batch, 1 + patches, dim]. Introduced in chapter 15.
    """

    def __init__(self, image_size: int, patch_size: int, *, in_channels: int = 3, num_classes: int = 10,
                 dim: int = 64, depth: int = 4, heads: int = 4, mlp_ratio: float = 2.0, dropout: float = 0.0):
        super().__init__()
        self.patch_embed = PatchEmbedding(image_size, patch_size, in_channels, dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + self.patch_embed.num_patches, dim))
        self.blocks = nn.Sequential(*[Block(dim, heads, mlp_ratio=mlp_ratio, dropout=dropout) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)  # small random starts, as in the paper's code
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=0.02)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Every token's final state after the last LayerNorm: [batch, 1 + patches, dim]."""
        tokens = self.patch_embed(images)
        cls = self.cls_token.expand(len(tokens), -1, -1)
        tokens = torch.cat([cls, tokens], dim=1) + self.pos_embed
        return self.norm(self.blocks(tokens))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images)[:, 0])  # the class token's state only
