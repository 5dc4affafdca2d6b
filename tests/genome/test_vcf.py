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


def _scored_for_annotation() -> pd.DataFrame:
    # rs1 scored; of the multi-allelic record only the first and third ALT; rs3 not at all
    return pd.DataFrame(
        {
            "chrom": ["c1", "c1", "c1"],
            "pos": [10, 20, 20],
            "id": ["rs1", ".", "."],
            "ref": ["A", "AC", "AC"],
            "alt": ["C", "A", "<DEL>"],
            "SAD_cage+": [1.5, -2.0, 0.25],
            "logFC_dnase": [0.1, 0.2, float("nan")],
        }
    )


@pytest.mark.parametrize("name", ["annotated.vcf", "annotated.vcf.gz"])
def test_write_annotated_vcf_is_read_back_by_pysam(tmp_path, name):
    from genodil.genome.vcf import write_annotated_vcf

    src = write_vcf(tmp_path / "v.vcf", RECORDS, contigs={"c1": 100, "c2": 50})
    cols = ["SAD_cage+", "logFC_dnase"]
    out = write_annotated_vcf(
        src, _scored_for_annotation(), tmp_path / name, cols, {"SAD_cage+": "SAD, track units"}
    )
    if name.endswith(".gz"):
        pysam.tabix_index(str(out), preset="vcf", force=True)  # BGZF, so tabix accepts it
    with pysam.VariantFile(str(out)) as vf:
        info = vf.header.info
        assert info["SAD_cage_"].number == "A" and info["SAD_cage_"].type == "Float"
        assert "track units" in info["SAD_cage_"].description
        records = list(vf)
    assert [r.id for r in records] == ["rs1", None, "rs3"]  # every record kept, in order
    assert records[0].info["SAD_cage_"] == pytest.approx((1.5,))
    assert records[0].info["logFC_dnase"] == pytest.approx((0.1,))
    sad = records[1].info["SAD_cage_"]
    assert sad[0] == pytest.approx(-2.0) and sad[1] is None and sad[2] == pytest.approx(0.25)
    assert records[1].info["logFC_dnase"][2] is None  # NaN written as missing
    assert "SAD_cage_" not in records[2].info


def test_write_annotated_vcf_rejects_headerless_file_and_leaves_nothing(tmp_path):
    from genodil.genome.vcf import write_annotated_vcf

    src = tmp_path / "bad.vcf"
    src.write_text("c1\t10\trs1\tA\tC\t.\t.\t.\n")
    with pytest.raises(InputError, match="no #CHROM header"):
        write_annotated_vcf(src, _scored_for_annotation(), tmp_path / "o.vcf", ["SAD_cage+"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.vcf"]
