"""The course's tiny GPT (Part 9), small enough to read in one sitting, and the loader of its trained checkpoint.

The model is the one Module 9.3 builds: token embedding + learned positions, ``n_layers`` pre-norm transformer
blocks (causal multi-head self-attention, then a GELU feed-forward layer, each added back through a residual),
a final layer norm and a linear output layer that gives one logit per vocabulary token.

Parts 10 and 11 start from the checkpoint the course trained on Jane Austen's novels::

    from aiml_notebooks import load_pretrained_gpt
    model, tokenizer = load_pretrained_gpt()            # eval mode, on the CPU
    ids = torch.tensor([tokenizer.encode("It is a truth")])
    print(tokenizer.decode(model.generate(ids, 80, temperature=0.8)[0]))

The checkpoint (``checkpoints/austen_gpt.pt``) holds only plain data: the ``state_dict``, the tokenizer's
characters and the sizes below, so it loads with ``torch.load(..., weights_only=True)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from aiml_notebooks.pretrained import load_checkpoint
from aiml_notebooks.text import CharacterTokenizer

__all__ = ["ARCHITECTURE_KEYS", "Block", "TinyGPT", "load_pretrained_gpt"]

# The numbers that fix the model's shape (TinyGPT's arguments), saved with every checkpoint.
ARCHITECTURE_KEYS = ("vocab", "d_model", "n_heads", "n_layers", "d_ff", "max_len")


class Block(nn.Module):
    """One transformer block: x + attention(norm(x)), then x + feed_forward(norm(x))."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int) -> None:
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be a multiple of n_heads ({n_heads})")
        self.n_heads = n_heads
        self.ln1, self.ln2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)  # queries, keys and values in one layer
        self.proj = nn.Linear(d_model, d_model)  # merges the heads
        self.ff = nn.Sequential(nn.Linear(d_model, d_ff), nn.GELU(), nn.Linear(d_ff, d_model))

    def forward(self, x: torch.Tensor, causal: bool = True) -> torch.Tensor:
        B, T, D = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(D, dim=-1)
        # (B, T, D) -> (B, heads, T, D / heads): each head attends on its own slice of the numbers
        q, k, v = (t.reshape(B, T, self.n_heads, D // self.n_heads).transpose(1, 2) for t in (q, k, v))
        a = F.scaled_dot_product_attention(q, k, v, is_causal=causal)  # (B, heads, T, D / heads)
        x = x + self.proj(a.transpose(1, 2).reshape(B, T, D))
        return x + self.ff(self.ln2(x))


class TinyGPT(nn.Module):
    """A decoder-only transformer: ids (batch, T) -> logits (batch, T, vocab) for the next token."""

    def __init__(
        self, vocab: int, d_model: int, n_heads: int, n_layers: int, d_ff: int, max_len: int
    ) -> None:
        super().__init__()
        self.config = {"vocab": vocab, "d_model": d_model, "n_heads": n_heads, "n_layers": n_layers,
                       "d_ff": d_ff, "max_len": max_len}  # fmt: skip
        self.tok_emb = nn.Embedding(vocab, d_model)
        self.pos_emb = nn.Embedding(max_len, d_model)
        self.blocks = nn.ModuleList([Block(d_model, n_heads, d_ff) for _ in range(n_layers)])
        self.ln_f = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab, bias=False)  # one logit per vocabulary token

    @property
    def max_len(self) -> int:
        return self.config["max_len"]

    def forward(self, ids: torch.Tensor, causal: bool = True) -> torch.Tensor:
        T = ids.shape[-1]
        if T > self.max_len:
            raise ValueError(
                f"{T} tokens is more than the model's max_len ({self.max_len}): keep the last ones"
            )
        x = self.tok_emb(ids) + self.pos_emb(torch.arange(T, device=ids.device))
        for block in self.blocks:
            x = block(x, causal=causal)
        return self.head(self.ln_f(x))

    @torch.no_grad()
    def generate(
        self,
        ids: torch.Tensor,
        n_new: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Append n_new sampled tokens to each row of ids (batch, T); temperature 0 means greedy."""
        for _ in range(n_new):
            logits = self(ids[:, -self.max_len :])[:, -1]  # the last position predicts the next token
            if temperature == 0:
                nxt = logits.argmax(dim=-1, keepdim=True)
            else:
                logits = logits / temperature
                if top_k is not None:
                    kth = logits.topk(min(top_k, logits.shape[-1]), dim=-1).values[:, -1:]
                    logits = logits.masked_fill(logits < kth, float("-inf"))
                nxt = torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=generator)
            ids = torch.cat([ids, nxt], dim=1)
        return ids


def load_pretrained_gpt(name: str = "austen_gpt") -> tuple[TinyGPT, CharacterTokenizer]:
    """The course's trained TinyGPT (eval mode, CPU) and its CharacterTokenizer, from checkpoint ``name``.

    The validation loss it reached and how long it trained are in ``checkpoint_info(name)["metrics"]``.
    """
    saved = load_checkpoint(name)
    model = TinyGPT(**{key: int(saved["architecture"][key]) for key in ARCHITECTURE_KEYS})
    model.load_state_dict(saved["state_dict"])
    tokenizer = CharacterTokenizer.from_dict(saved["tokenizer"])
    if tokenizer.vocab_size != model.config["vocab"]:
        raise ValueError(
            f"checkpoint {name!r}: tokenizer has {tokenizer.vocab_size} tokens, model {model.config}"
        )
    return model.eval(), tokenizer
