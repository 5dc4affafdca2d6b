"""explain-variants: the top variant breaks a planted motif, and the figure is written."""

import numpy as np
import pandas as pd

from genodil.genome.encode import codes_to_str, encode
from genodil.genome.io import Genome
from genodil.interpret.explain import explain_variants, motif_change
from genodil.train.io import Loaded
from tests.helpers import write_fasta
from tests.interpret.models import MotifOccupancyModel

AP1 = "GATGACTCATC"


def test_motif_change_names_the_broken_motif():
    rng = np.random.default_rng(0)
    ref = rng.integers(0, 4, size=61).astype(np.uint8)
    ref[25:36] = encode(AP1)
    alt = ref.copy()
    alt[27] = encode("C")[0]  # T -> C in the TGACTCA core (C -> G would give the RC site)
    ppm = np.full((4, 11), 0.01)
    ppm[encode(AP1), np.arange(11)] = 0.97
    tata = np.full((4, 11), 0.25)
    change = motif_change(ref, alt, 30, {"ap1": ppm, "flat": tata})
    assert change["motif"] == "ap1" and change["effect"] == "breaks"
    assert change["alt_score"] < change["ref_score"]
    back = motif_change(alt, ref, 30, {"ap1": ppm})
    assert motif_change(ref, ref, 30, {"ap1": ppm}) is None  # no change, nothing named
    assert back["effect"] == "creates"


def test_explain_variants_ranks_the_motif_breaking_snv_first(tmp_path):
    rng = np.random.default_rng(1)
    codes = rng.integers(0, 4, size=3000).astype(np.uint8)
    codes[1500:1511] = encode(AP1)
    fasta = write_fasta(tmp_path / "g.fa", {"c1": codes_to_str(codes)})
    core_pos = 1500 + 2 + 1  # 1-based position of the core T (index 2 of the motif)
    neutral = 600
    variants = pd.DataFrame(
        {
            "chrom": ["c1", "c1"],
            "pos": [neutral, core_pos],
            "id": ["neutral", "breaker"],
            "ref": [codes_to_str(codes[neutral - 1 : neutral]), "T"],
            "alt": ["A" if codes[neutral - 1] != 0 else "C", "C"],
        }
    )
    model = MotifOccupancyModel(crop=20).eval()
    loaded = Loaded(model, ["local"], 400, 20, 1, None)
    ppm = np.full((4, 11), 0.01)
    ppm[encode(AP1), np.arange(11)] = 0.97
    written = explain_variants(
        loaded,
        Genome(fasta),
        variants,
        tmp_path / "ex",
        top=2,
        db={"ap1": ppm},
        device="cpu",
        progress=False,
    )
    table = pd.read_csv(written["table"], sep="\t")
    assert table["id"].tolist() == ["breaker", "neutral"]
    assert table.loc[0, "motif"] == "ap1" and table.loc[0, "effect"] == "breaks"
    assert table.loc[0, "SAD_local"] < 0
    assert (tmp_path / "ex" / "variant_001.png").stat().st_size > 0
    assert not list((tmp_path / "ex").glob(".*"))
