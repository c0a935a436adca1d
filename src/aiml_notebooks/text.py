"""Character-level tokenization and next-token (x, y) windows for language models."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from numbers import Integral
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
    from torch.utils.data import TensorDataset

__all__ = ["CharacterTokenizer", "UnknownCharacterError", "create_dataset"]

_FORMAT_VERSION = 1


class UnknownCharacterError(ValueError):
    """A character that is not in the tokenizer's vocabulary."""

    def __init__(self, char: str, position: int, vocab_size: int) -> None:
        self.char, self.position = char, position
        super().__init__(
            f"character {char!r} (U+{ord(char):04X}) at position {position} is not in the "
            f"vocabulary ({vocab_size} tokens). Fit the tokenizer on text that contains it, "
            f"or build it with unk='<unk>' to map unknown characters to id 0."
        )


class CharacterTokenizer:
    """Maps each character to an integer id and back; ids follow the sorted vocabulary."""

    def __init__(self, *, unk: str | None = None) -> None:
        if unk is not None and not unk:
            raise ValueError("unk must be a non-empty string such as '<unk>', or None")
        self.unk = unk
        self.itos: list[str] = []  # id -> token
        self.stoi: dict[str, int] = {}  # token -> id
        self._set_vocabulary([])
        self._fitted = False

    @classmethod
    def from_text(cls, text: str, *, unk: str | None = None) -> CharacterTokenizer:
        """Build a tokenizer whose vocabulary is every distinct character of text."""
        return cls(unk=unk).fit(text)

    def fit(self, text: str) -> CharacterTokenizer:
        """Replace the vocabulary with the sorted distinct characters of text; return self."""
        if not isinstance(text, str):
            raise TypeError(f"fit expects a str, got {type(text).__name__}")
        self._set_vocabulary(sorted(set(text)))
        self._fitted = True
        return self

    def _set_vocabulary(self, chars: Iterable[str]) -> None:
        """Assign ids: the unk token (if any) takes id 0, the characters follow in the given order."""
        chars = [c for c in chars if c != self.unk]  # a one-character unk is folded into id 0
        self.itos = ([self.unk] if self.unk is not None else []) + chars
        self.stoi = {token: i for i, token in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise ValueError("the vocabulary contains a character twice")

    @property
    def vocab_size(self) -> int:
        """Number of distinct ids, the unk token included."""
        return len(self.itos)

    def __len__(self) -> int:
        return self.vocab_size

    def encode(self, text: str) -> list[int]:
        """Turn a string into a list of ids, one per character."""
        self._require_fitted()
        stoi = self.stoi
        if self.unk is not None:
            return [stoi.get(c, 0) for c in text]
        try:
            return [stoi[c] for c in text]  # fast path; find the culprit only on failure
        except KeyError:
            position = next(i for i, c in enumerate(text) if c not in stoi)
            raise UnknownCharacterError(text[position], position, self.vocab_size) from None

    def decode(self, ids: Sequence[int] | Any) -> str:
        """Turn a 1-D sequence of ids (list, NumPy array or tensor) back into a string."""
        self._require_fitted()
        values = ids.tolist() if hasattr(ids, "tolist") else list(ids)  # tensors and arrays
        if isinstance(values, int):  # a 0-d tensor or array
            values = [values]
        n = len(self.itos)
        for position, i in enumerate(values):
            if isinstance(i, list):
                raise ValueError("decode expects a 1-D sequence of ids; decode a batch row by row")
            # Integral admits NumPy integers; negative ids would silently index from the end.
            if isinstance(i, bool) or not isinstance(i, Integral) or not 0 <= i < n:
                raise ValueError(f"id {i!r} at position {position} is not in range(0, {n})")
        return "".join(self.itos[int(i)] for i in values)

    def _require_fitted(self) -> None:
        if not self._fitted:
            raise RuntimeError(
                "the tokenizer has no vocabulary yet: call .fit(text) or use "
                "CharacterTokenizer.from_text(text)"
            )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable description that from_dict turns back into the same tokenizer."""
        chars = self.itos[1:] if self.unk is not None else list(self.itos)
        return {
            "format": "CharacterTokenizer",
            "version": _FORMAT_VERSION,
            "unk": self.unk,
            "chars": chars,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CharacterTokenizer:
        """Rebuild a tokenizer saved with to_dict, keeping every id unchanged."""
        if data.get("format") != "CharacterTokenizer" or data.get("version") != _FORMAT_VERSION:
            raise ValueError(
                f"not a CharacterTokenizer version {_FORMAT_VERSION} dict: "
                f"format={data.get('format')!r}, version={data.get('version')!r}"
            )
        chars = data["chars"]
        if not all(isinstance(c, str) and len(c) == 1 for c in chars):
            raise ValueError("chars must be a list of single characters")
        tokenizer = cls(unk=data["unk"])
        tokenizer._set_vocabulary(chars)
        tokenizer._fitted = True
        return tokenizer

    def __repr__(self) -> str:
        preview = "".join(self.itos[1:] if self.unk is not None else self.itos)[:40]
        return f"CharacterTokenizer(vocab_size={self.vocab_size}, unk={self.unk!r}, chars={preview!r})"


def create_dataset(
    tokens: Sequence[int] | torch.Tensor, block_size: int, *, stride: int = 1
) -> TensorDataset:
    """Cut a token sequence into (x, y) windows where y is x shifted one token to the left."""
    import torch
    from torch.utils.data import TensorDataset

    if block_size < 1 or stride < 1:
        raise ValueError(f"block_size and stride must be >= 1, got {block_size} and {stride}")
    t = torch.as_tensor(tokens)
    if t.ndim != 1:
        raise ValueError(f"tokens must be 1-D, got shape {tuple(t.shape)}")
    if len(t) < block_size + 1:
        raise ValueError(
            f"create_dataset needs at least block_size + 1 = {block_size + 1} tokens for one (x, y) "
            f"window, got {len(t)}; use a smaller block_size or more text"
        )
    if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
        raise TypeError(f"tokens must be integer ids, got dtype {t.dtype}")
    t = t.to(torch.long).clone()  # own copy: later edits to the caller's tensor can't leak in
    windows = t.unfold(0, block_size + 1, stride)  # (N, T+1), a view: no N*T copy of the text
    x, y = windows[:, :-1], windows[:, 1:]  # (N, T), (N, T)
    return TensorDataset(x, y)
