"""read_vcf: one row per ALT, bgzip read like plain text, malformed lines named."""

from __future__ import annotations

import pandas as pd
import pysam
import pytest

from genodil.errors import InputError
from genodil.genome.vcf import read_vcf
from tests.helpers import write_vcf

RECORDS = [
    ("c1", 10, "rs1", "A", "C"),
    ("c1", 20, ".", "ac", "A,ACT,<DEL>"),
    ("c2", 5, "rs3", "G", "G]c1:7]"),
]


def test_read_vcf_splits_multiallelic(tmp_path):
    df = read_vcf(write_vcf(tmp_path / "v.vcf", RECORDS, contigs={"c1": 100, "c2": 50}))
    expected = pd.DataFrame(
        [
            ("c1", 10, "rs1", "A", "C"),
            ("c1", 20, ".", "AC", "A"),
            ("c1", 20, ".", "AC", "ACT"),
            ("c1", 20, ".", "AC", "<DEL>"),
            ("c2", 5, "rs3", "G", "G]c1:7]"),
        ],
        columns=["chrom", "pos", "id", "ref", "alt"],
    )
    pd.testing.assert_frame_equal(df, expected, check_dtype=False)
    assert df["pos"].dtype == "int64"


def test_read_vcf_bgzipped_equals_plain(tmp_path):
    plain = write_vcf(tmp_path / "v.vcf", RECORDS)
    gz = tmp_path / "v.vcf.gz"
    pysam.tabix_compress(str(plain), str(gz))
    assert gz.read_bytes()[:2] == b"\x1f\x8b"
    pd.testing.assert_frame_equal(read_vcf(gz), read_vcf(plain))


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ("c1\tabc\t.\tA\tC\t.\t.\t.", "POS 'abc' is not an integer"),
        ("c1 10 . A C", "found 1 column"),
        ("c1\t10\t.\tAXZ\tC\t.\t.\t.", "REF 'AXZ' must be bases"),
        ("c1\t0\t.\tA\tC\t.\t.\t.", "must be >= 1"),
        ("c1\t10\t.\tA\tC,,G\t.\t.\t.", "empty allele"),
    ],
)
def test_read_vcf_malformed_line_raises_with_line_number(tmp_path, bad_line, message):
    path = write_vcf(tmp_path / "bad.vcf", RECORDS)
    lines = path.read_text().splitlines()
    lines.insert(4, bad_line)  # after 2 header lines and 2 records: line 5
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=rf"bad\.vcf, line 5: .*{message}"):
        read_vcf(path)


def test_read_vcf_missing_or_binary_raises(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_vcf(tmp_path / "none.vcf")
    junk = tmp_path / "junk.vcf"
    junk.write_bytes(b"\x1f\x8b\x08garbage")
    with pytest.raises(InputError, match="cannot read"):
        read_vcf(junk)
