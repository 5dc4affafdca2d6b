"""Held-out splits tile with abutting outputs, whatever the training stride."""

from genodil.data.datamodule import GenomeDataModule
from genodil.data.tracks import TrackSpec


def test_heldout_outputs_abut_while_train_uses_its_stride(small):
    dm = GenomeDataModule(
        fasta=str(small.fasta),
        tracks=[TrackSpec(**t) for t in small.tracks()],
        window=512,
        crop=128,
        stride=64,
        max_n_fraction=1.0,
        splits={"valid": ["c2"], "test": ["c3"]},
    )
    dm.setup("fit")
    steps = dm.windows("train")["start"].diff().dropna()
    assert (steps.iloc[:-1] == 64).all() and steps.iloc[-1] <= 64  # last one meets the end
    for split in ("valid", "test"):
        w = dm.windows(split)
        out_start, out_end = w["start"] + 128, w["end"] - 128
        # each output region starts where the previous one ended (the last window is placed
        # against the chromosome end, so only it may overlap its neighbour)
        assert (out_start.iloc[1:-1].to_numpy() == out_end.iloc[:-2].to_numpy()).all()
        assert len(w) > 3
