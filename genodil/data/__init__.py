"""From files to tensors: tracks, window tables, WindowDataset, GenomeDataModule.

Modules: ``tracks`` (bigWig values and transforms), ``windows`` (window tables and splits),
``dataset`` (WindowDataset, WindowSampler), ``datamodule`` (GenomeDataModule), ``cache``
(memory-mapped cache). Import them directly; this package imports nothing heavy itself.
"""
