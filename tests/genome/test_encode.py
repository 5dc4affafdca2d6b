"""Base codes, one-hot and reverse complement against per-character references."""

from __future__ import annotations

import numpy as np
import torch

from genodil.genome.encode import (
    codes_to_str,
    encode,
    one_hot,
    one_hot_torch,
    reverse_complement,
    reverse_complement_codes,
)

# every IUPAC ambiguity code, gaps and soft-masked bases
SEQ = "ACGTacgtNnRYKMSWBDHVryk-.ACGGTTCA"


def _one_hot_reference(seq: str) -> np.ndarray:
    rows = {"A": 0, "C": 1, "G": 2, "T": 3}
    out = np.zeros((4, len(seq)), dtype=np.float32)
    for j, ch in enumerate(seq):
        if ch.upper() in rows:
            out[rows[ch.upper()], j] = 1.0
    return out


def _rc_reference(seq: str) -> str:
    comp = {"A": "T", "C": "G", "G": "C", "T": "A"}
    return "".join(comp.get(ch.upper(), "N") for ch in reversed(seq))


def test_encode_matches_per_character_reference():
    codes = encode(SEQ)
    expected = ["ACGT".index(c.upper()) if c.upper() in "ACGT" else 4 for c in SEQ]
    assert codes.dtype == np.uint8
    assert codes.tolist() == expected
    assert encode(SEQ.encode()).tolist() == expected
    assert encode(np.frombuffer(SEQ.encode(), np.uint8)).tolist() == expected


def test_encode_result_is_writable():
    codes = encode("ACGT")
    codes[0] = 3
    assert codes.tolist() == [3, 1, 2, 3]


def test_one_hot_iupac_is_all_zero_column():
    np.testing.assert_array_equal(one_hot(encode(SEQ)), _one_hot_reference(SEQ))
    t = one_hot_torch(encode(SEQ))
    np.testing.assert_array_equal(t.numpy(), _one_hot_reference(SEQ))


def test_reverse_complement_codes_and_one_hot_match_string_reference():
    rc = _rc_reference(SEQ)
    assert codes_to_str(reverse_complement_codes(encode(SEQ))) == rc
    x = one_hot(encode(SEQ))
    np.testing.assert_array_equal(reverse_complement(x), _one_hot_reference(rc))
    xt = torch.from_numpy(x)[None]  # (1, 4, L)
    np.testing.assert_array_equal(reverse_complement(xt)[0].numpy(), _one_hot_reference(rc))
