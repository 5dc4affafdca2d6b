"""GenomeDataModule: loaders, splits, filters, bad input, workers and DDP shares."""

from __future__ import annotations

import lightning as L
import numpy as np
import pandas as pd
import pytest
import torch

from genodil.data.datamodule import GenomeDataModule
from genodil.data.tracks import TrackSpec
from genodil.errors import InputError
from tests.data.conftest import SIZES, write_small_data
from tests.helpers import write_bed, write_bigwig, write_fasta


def _args(small, **kw) -> dict:
    args = {
        "fasta": str(small.fasta),
        "tracks": small.tracks(),
        "window": 512,
        "crop": 64,
        "splits": {"valid": ["c2"], "test": ["c3:0-1500"]},
        "max_n_fraction": 1.0,
        "batch_size": 4,
    }
    args.update(kw)
    return args


def _coords(loader) -> list[tuple[str, int, int]]:
    out = []
    for batch in loader:
        assert batch["seq"].shape[1:] == (4, 512)
        assert batch["start"].dtype == torch.int64
        out += list(
            zip(batch["chrom"], batch["start"].tolist(), batch["end"].tolist(), strict=True)
        )
    return out


def test_attributes_and_batches(small):
    dm = GenomeDataModule(
        **_args(small, bin_size=4, tracks=[TrackSpec(**t) for t in small.tracks()])
    )
    assert dm.track_names == ["index", "plus", "minus"]
    assert dm.strand_pair_index == [0, 2, 1]
    assert dm.output_length == (512 - 128) // 4
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert batch["seq"].shape == (4, 4, 512) and batch["seq"].dtype == torch.float32
    assert batch["target"].shape == (4, 3, 96) and batch["target"].dtype == torch.float32
    assert len(batch["chrom"]) == 4
    # default stride: output regions abut
    w = dm.windows("valid")
    assert list(w.columns) == ["chrom", "start", "end"]
    assert (np.diff(w.start.to_numpy())[:-1] == 512 - 128).all()
    assert set(dm.windows("test").chrom) == {"c3"} and dm.windows("test").end.max() <= 1500


def test_train_loader_shuffles_by_seed_and_eval_loaders_are_ordered(small):
    dm = GenomeDataModule(**_args(small, seed=1))
    order = _coords(dm.train_dataloader())
    assert sorted(order) == sorted(
        (c, s, e) for c, s, e in dm.windows("train").itertuples(index=False)
    )
    assert order != sorted(order, key=lambda r: (list(SIZES).index(r[0]), r[1]))
    assert order == _coords(GenomeDataModule(**_args(small, seed=1)).train_dataloader())
    dm.set_epoch(1)
    assert _coords(dm.train_dataloader()) != order
    val = _coords(dm.val_dataloader())
    assert val == [tuple(r) for r in dm.windows("valid").itertuples(index=False)]


def test_workers_give_the_same_batches_as_the_main_process(small):
    aug = {"reverse_complement": True, "max_shift": 2, "jitter": 10}
    dm0 = GenomeDataModule(**_args(small, augment=aug, num_workers=0))
    dm2 = GenomeDataModule(**_args(small, augment=aug, num_workers=2))
    for make in ("train_dataloader", "val_dataloader"):
        b0 = list(getattr(dm0, make)())
        b2 = list(getattr(dm2, make)())
        assert len(b0) == len(b2)
        for x, y in zip(b0, b2, strict=True):
            assert torch.equal(x["seq"], y["seq"]) and torch.equal(x["target"], y["target"])
            assert torch.equal(x["start"], y["start"])


def test_no_training_window_overlaps_held_out_regions(small):
    splits = {"valid": ["c1:2000-3000"], "test": ["c2:1000-2500", "c3"]}
    aug = {"reverse_complement": True, "max_shift": 5, "jitter": 200}
    dm = GenomeDataModule(**_args(small, splits=splits, augment=aug, stride=97))
    held = [("c1", 2000, 3000), ("c2", 1000, 2500), ("c3", 0, SIZES["c3"])]
    loader = dm.train_dataloader()
    seen = 0
    for epoch in range(3):
        loader.sampler.set_epoch(epoch)
        for chrom, start, end in _coords(loader):
            seen += 1
            for hc, hs, he in held:
                assert not (chrom == hc and start < he and end > hs), (chrom, start, end)
    assert seen > 3 * 40
    for split in ("valid", "test"):
        for chrom, start, end in dm.windows(split).itertuples(index=False):
            assert any(chrom == hc and start >= hs and end <= he for hc, hs, he in held)


def test_regions_bed_and_blacklist(small):
    bed = write_bed(
        small.root / "peaks.bed",
        [("c1", 400, 420), ("c1", 5000, 5010), ("c2", 2000, 2001), ("c3", 100, 110)],
    )
    black = write_bed(small.root / "black.bed", [("c1", 4900, 4901)])
    dm = GenomeDataModule(**_args(small, regions=str(bed), blacklist=str(black)))
    # c1:5000 is dropped: its output region [4749 + 64, 5261 - 64) covers 4900
    assert [tuple(r) for r in dm.windows("train").itertuples(index=False)] == [("c1", 154, 666)]
    assert [tuple(r) for r in dm.windows("valid").itertuples(index=False)] == [("c2", 1744, 2256)]
    assert [tuple(r) for r in dm.windows("test").itertuples(index=False)] == [("c3", 0, 512)]


def test_max_n_fraction_drops_n_rich_windows(small):
    # c1 has N at 1300-1700; window 512 stride 448
    dm = GenomeDataModule(**_args(small, max_n_fraction=0.1))
    for chrom, start, end in dm.windows("train").itertuples(index=False):
        if chrom == "c1":
            n = max(0, min(end, 1700) - max(start, 1300))
            assert n / 512 <= 0.1
    dropped = len(GenomeDataModule(**_args(small)).windows("train")) - len(dm.windows("train"))
    assert dropped == 2


def test_chr_prefix_mismatch_names_the_fix(tmp_path):
    small = write_small_data(tmp_path / "d")
    renamed = tmp_path / "renamed.fa"
    write_fasta(renamed, {"chr" + c: s for c, s in small.seqs.items()})
    with pytest.raises(InputError) as e:
        GenomeDataModule(**_args(small, fasta=str(renamed), splits={"valid": ["chrc2"]}))
    msg = str(e.value)
    assert "lacks chrc1" in msg and "index.bw" in msg and "chrom_alias: strip_chr" in msg
    dm = GenomeDataModule(
        **_args(small, fasta=str(renamed), splits={"valid": ["chrc2"]}, chrom_alias="strip_chr")
    )
    item = dm.dataset("valid")[0]
    assert item["chrom"] == "chrc2" and item["target"][0, 0] == 100_000 + item["start"] + 64


def test_bigwig_lacking_a_chromosome_raises(small):
    write_bigwig(
        small.root / "partial.bw", {"c1": np.ones(SIZES["c1"])}, chrom_sizes={"c1": SIZES["c1"]}
    )
    tracks = [{"name": "p", "path": str(small.root / "partial.bw")}]
    with pytest.raises(InputError, match=r"partial\.bw:\n    lacks c2, c3"):
        GenomeDataModule(**_args(small, tracks=tracks))
    # restricted to the chromosome it has, it works
    dm = GenomeDataModule(
        **_args(small, tracks=tracks, chroms=["c1"], splits={"valid": ["c1:0-1000"]})
    )
    assert set(dm.windows("train").chrom) == {"c1"}


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"window": 7000}, r"window \(7,000 bp\) is longer than every chromosome"),
        ({"window": 512, "crop": 100, "bin_size": 5}, "not divisible by data.bin_size"),
        ({"crop": 256}, "must exceed 2 \\* crop"),
        ({"augment": {"reverse_complment": True}}, "did you mean 'reverse_complement'"),
        ({"augment": {"max_shift": -1}}, "non-negative integer"),
        ({"splits": {"valid": ["c2:0-100"]}}, r"c2:0-100 \(100 bp\) is shorter than data.window"),
        ({"chrom_alias": "chr"}, "chrom_alias must be one of"),
        ({"max_n_fraction": 1.5}, r"max_n_fraction must lie in \[0, 1\]"),
        ({"chroms": ["c9"]}, "'c9' is not in FASTA"),
    ],
)
def test_bad_settings_raise(small, kw, match):
    with pytest.raises(InputError, match=match):
        GenomeDataModule(**_args(small, **kw))


def test_bad_files_raise(small):
    with pytest.raises(InputError, match=r"FASTA file .*nope\.fa does not exist"):
        GenomeDataModule(**_args(small, fasta=str(small.root / "nope.fa")))
    tracks = [{"name": "gone", "path": str(small.root / "gone.bw")}]
    with pytest.raises(InputError, match=r"bigWig of track 'gone' file .*gone\.bw does not exist"):
        GenomeDataModule(**_args(small, tracks=tracks))
    empty = small.root / "empty.bed"
    empty.write_text("")
    with pytest.raises(InputError, match=r"regions BED .*empty\.bed holds no intervals"):
        GenomeDataModule(**_args(small, regions=str(empty)))
    bad = write_bed(small.root / "bad.bed", [("c1", 10, 20), ("c1", 30, 25)])
    with pytest.raises(InputError, match=r"blacklist BED .*bad\.bed, line 2: start 30 > end 25"):
        GenomeDataModule(**_args(small, blacklist=str(bad)))


def test_all_windows_filtered_raises(small):
    black = write_bed(small.root / "all.bed", [(c, 0, n) for c, n in SIZES.items()])
    dm = GenomeDataModule(**_args(small, blacklist=str(black)))
    with pytest.raises(InputError, match="every train window was dropped: they overlap the"):
        dm.setup("fit")


def test_no_splits_gives_empty_eval_loaders(small):
    dm = GenomeDataModule(**_args(small, splits=None))
    dm.setup("fit")
    assert len(dm.windows("train")) > 0 and dm.val_dataloader() == []
    assert len(dm.windows("valid")) == 0


class _Recorder(L.LightningModule):
    """Writes the windows each rank sees to a file per rank."""

    def __init__(self, out: str) -> None:
        super().__init__()
        self.out = out
        self.w = torch.nn.Parameter(torch.zeros(1))

    def _record(self, batch, stage: str) -> None:
        path = f"{self.out}/{stage}_rank{self.global_rank}_epoch{self.current_epoch}"
        rows = zip(batch["chrom"], batch["start"].tolist(), strict=True)
        with open(path, "a") as f:
            f.writelines(f"{c}\t{s}\n" for c, s in rows)

    def training_step(self, batch, batch_idx):
        self._record(batch, "train")
        return (self.w * batch["seq"].mean()).sum()

    def validation_step(self, batch, batch_idx):
        self._record(batch, "valid")

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.0)


def _read_shares(out, stage: str, epoch: int) -> list[list[tuple[str, int]]]:
    shares = []
    for rank in (0, 1):
        p = out / f"{stage}_rank{rank}_epoch{epoch}"
        rows = pd.read_csv(p, sep="\t", header=None, dtype={0: object}) if p.exists() else None
        shares.append([] if rows is None else list(zip(rows[0], rows[1], strict=True)))
    return shares


@pytest.mark.slow
def test_ddp_two_cpu_ranks_see_disjoint_shares(small, tmp_path):
    out = tmp_path / "seen"
    out.mkdir()
    dm = GenomeDataModule(**_args(small, batch_size=3, augment={"reverse_complement": True}))
    trainer = L.Trainer(
        strategy="ddp_spawn",
        accelerator="cpu",
        devices=2,
        max_epochs=2,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    trainer.fit(_Recorder(str(out)), datamodule=dm)
    train = {(c, s) for c, s, _ in dm.windows("train").itertuples(index=False)}
    for epoch in (0, 1):
        a, b = _read_shares(out, "train", epoch)
        assert len(a) == len(b) == len(train) // 2  # equal steps on both ranks
        assert not set(a) & set(b)
        assert set(a) | set(b) <= train
        va, vb = _read_shares(out, "valid", epoch)
        assert not set(va) & set(vb)
        assert sorted(va + vb) == sorted(
            (c, s) for c, s, _ in dm.windows("valid").itertuples(index=False)
        )
    assert _read_shares(out, "train", 0)[0] != _read_shares(out, "train", 1)[0]  # reshuffled
