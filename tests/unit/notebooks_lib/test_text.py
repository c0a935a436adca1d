from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from aiml_notebooks.text import CharacterTokenizer, UnknownCharacterError, create_dataset

TEXT = "hello world\n"


def test_vocabulary_is_sorted_distinct_characters() -> None:
    """Are ids assigned in sorted character order, with stoi and itos inverse to each other?"""
    tok = CharacterTokenizer.from_text(TEXT)
    assert tok.itos == ["\n", " ", "d", "e", "h", "l", "o", "r", "w"]
    assert tok.vocab_size == len(tok) == 9
    assert all(tok.stoi[c] == i for i, c in enumerate(tok.itos))


def test_encode_decode_roundtrip() -> None:
    """Does decode(encode(s)) give s back, with the expected ids?"""
    tok = CharacterTokenizer().fit(TEXT)
    ids = tok.encode("hello")
    assert ids == [4, 3, 5, 5, 6]
    assert tok.decode(ids) == "hello"
    assert tok.decode(tok.encode(TEXT)) == TEXT


def test_decode_accepts_tensors_and_arrays() -> None:
    """Can model outputs (a long tensor, a NumPy array, a 0-d tensor) be decoded directly?"""
    tok = CharacterTokenizer.from_text(TEXT)
    ids = tok.encode("world")
    assert tok.decode(torch.tensor(ids)) == "world"
    assert tok.decode(np.array(ids)) == "world"
    assert tok.decode(list(np.array(ids))) == "world"
    assert tok.decode(torch.tensor(ids[0])) == "w"


def test_unknown_character_names_character_and_position() -> None:
    """Does encoding an unseen character raise UnknownCharacterError (a ValueError) saying what and where?"""
    tok = CharacterTokenizer.from_text(TEXT)
    with pytest.raises(UnknownCharacterError, match=r"'!' \(U\+0021\) at position 5") as info:
        tok.encode("hello!")
    assert isinstance(info.value, ValueError)
    assert (info.value.char, info.value.position) == ("!", 5)
    assert "unk='<unk>'" in str(info.value)


def test_unk_token_takes_id_zero() -> None:
    """With unk='<unk>', do unknown characters map to 0 and known ones keep distinct ids after it?"""
    tok = CharacterTokenizer.from_text("ab", unk="<unk>")
    assert tok.itos == ["<unk>", "a", "b"]
    assert tok.vocab_size == 3
    assert tok.encode("a?b") == [1, 0, 2]
    assert tok.decode([1, 0, 2]) == "a<unk>b"


def test_single_character_unk_is_folded_into_id_zero() -> None:
    """If the unk token also occurs in the text, is it still one id (0) rather than two?"""
    tok = CharacterTokenizer.from_text("a?b", unk="?")
    assert tok.itos == ["?", "a", "b"]
    assert tok.encode("a?bc") == [1, 0, 2, 0]


@pytest.mark.parametrize("ids", [[9], [-1], [0.0], [True]])
def test_decode_rejects_invalid_ids(ids: list[object]) -> None:
    """Are out-of-range, negative and non-integer ids refused instead of indexing from the end?"""
    tok = CharacterTokenizer.from_text(TEXT)
    with pytest.raises(ValueError, match="position 0"):
        tok.decode(ids)


def test_decode_rejects_a_batch() -> None:
    """Does a 2-D batch get a clear error rather than a confusing TypeError?"""
    tok = CharacterTokenizer.from_text(TEXT)
    with pytest.raises(ValueError, match="1-D"):
        tok.decode(torch.zeros(2, 3, dtype=torch.long))


def test_unfitted_tokenizer_says_how_to_fit() -> None:
    """Does using a tokenizer before fit explain what to call?"""
    with pytest.raises(RuntimeError, match="fit"):
        CharacterTokenizer().encode("a")
    assert CharacterTokenizer().fit("").encode("") == []


def test_fit_replaces_the_vocabulary() -> None:
    """Does fitting again rebuild the vocabulary instead of appending to it?"""
    tok = CharacterTokenizer.from_text("abc")
    assert tok.fit("xy") is tok
    assert tok.itos == ["x", "y"]
    with pytest.raises(UnknownCharacterError):
        tok.encode("a")


@pytest.mark.parametrize("unk", [None, "<unk>"])
def test_to_dict_from_dict_roundtrip_through_json(unk: str | None) -> None:
    """Does a tokenizer saved as JSON come back with exactly the same ids?"""
    tok = CharacterTokenizer.from_text(TEXT, unk=unk)
    loaded = CharacterTokenizer.from_dict(json.loads(json.dumps(tok.to_dict())))
    assert loaded.itos == tok.itos
    assert loaded.stoi == tok.stoi
    assert loaded.encode("old world") == tok.encode("old world")


def test_from_dict_rejects_other_data() -> None:
    """Is a dict that was not written by to_dict refused?"""
    with pytest.raises(ValueError, match="CharacterTokenizer"):
        CharacterTokenizer.from_dict({"chars": ["a"], "unk": None})
    bad = CharacterTokenizer.from_text("ab").to_dict() | {"chars": ["a", "a"]}
    with pytest.raises(ValueError, match="twice"):
        CharacterTokenizer.from_dict(bad)


def test_dataset_windows_are_next_token_pairs() -> None:
    """Is x[i] = tokens[i:i+T] and y[i] = tokens[i+1:i+T+1], as long tensors of shape (N, T)?"""
    tokens = list(range(10, 20))  # 10 tokens
    x, y = create_dataset(tokens, block_size=4).tensors
    assert x.shape == y.shape == (6, 4)
    assert x.dtype == y.dtype == torch.long
    for i in range(6):
        assert x[i].tolist() == tokens[i : i + 4]
        assert y[i].tolist() == tokens[i + 1 : i + 5]


def test_dataset_stride_skips_windows() -> None:
    """Does stride=T give non-overlapping windows, with leftovers dropped?"""
    dataset = create_dataset(torch.arange(11), block_size=3, stride=3)
    x, y = dataset.tensors
    assert x.tolist() == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    assert y.tolist() == [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    assert len(dataset) == 3


def test_dataset_batches_through_a_dataloader() -> None:
    """Does a DataLoader over the dataset give (B, T) batches with y shifted by one?"""
    tok = CharacterTokenizer.from_text(TEXT)
    dataset = create_dataset(tok.encode(TEXT), block_size=5)
    xb, yb = next(iter(DataLoader(dataset, batch_size=4)))
    assert xb.shape == yb.shape == (4, 5)
    assert tok.decode(xb[1]) == "ello "
    assert tok.decode(yb[1]) == "llo w"


def test_dataset_does_not_alias_the_input() -> None:
    """Do later edits to the caller's tensor leave the dataset unchanged?"""
    tokens = torch.arange(6)
    x, _ = create_dataset(tokens, block_size=2).tensors
    tokens[0] = 99
    assert x[0].tolist() == [0, 1]


def test_too_few_tokens_is_a_clear_error() -> None:
    """Does a text shorter than block_size + 1 explain the minimum instead of returning nothing?"""
    assert len(create_dataset([1, 2, 3], block_size=2)) == 1  # exactly block_size + 1 is enough
    with pytest.raises(ValueError, match=r"at least block_size \+ 1 = 4 tokens.*got 3"):
        create_dataset([1, 2, 3], block_size=3)


@pytest.mark.parametrize(
    ("tokens", "kwargs", "error"),
    [
        (torch.zeros(2, 5, dtype=torch.long), {}, ValueError),
        (torch.rand(10), {}, TypeError),
        ([1, 2, 3], {"stride": 0}, ValueError),
    ],
)
def test_bad_inputs_are_rejected(tokens: object, kwargs: dict[str, int], error: type[Exception]) -> None:
    """Are 2-D input, float tokens and a zero stride refused?"""
    with pytest.raises(error):
        create_dataset(tokens, 2, **kwargs)  # type: ignore[arg-type]
