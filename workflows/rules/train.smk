# Train one model per run in the config, then evaluate it on the held-out split.


def train_prepare(run):
    """Shell text setting $resume: --resume to continue a run, else clear its folder."""
    run_dir = shlex.quote(f"{OUTDIR}/runs/{run}")
    if CFG["resume"]:
        return f'resume=""; if [ -f {run_dir}/checkpoints/last.ckpt ]; then resume=--resume; fi;'
    return f'resume=""; rm -rf {run_dir};'


rule train:
    """Train a run: writes {outdir}/runs/{run}/ (config.yaml, checkpoints/, logs/)."""
    input:
        config=lambda wc: RUNS[wc.run]["config"],
        checked=chrom_sizes_file("{run}"),
    output:
        ckpt=run_ckpt("{run}"),
    params:
        genodil=GENODIL,
        run_dir=f"{OUTDIR}/runs/{{run}}",
        data_root=quoted(DATA_ROOT_ARGS),
        device=quoted(TRAIN_DEVICE_ARGS),
        # The run's own overrides come last, so they win over the device defaults.
        overrides=lambda wc: quoted(RUNS[wc.run]["overrides"]),
        # Resume from last.ckpt when asked and present; otherwise start from an empty folder.
        prepare=lambda wc: train_prepare(wc.run),
    log:
        f"{OUTDIR}/logs/train/{{run}}.log",
    threads: RES["train"]["threads"]
    resources:
        gpu=GPUS,
        mem_mb=RES["train"]["mem_mb"],
        runtime=RES["train"]["runtime"],
    shell:
        "{params.prepare} "
        + logged(
            "OMP_NUM_THREADS={threads} {params.genodil} train --config {input.config:q} "
            "--out {params.run_dir:q} {params.data_root} --quiet {params.device} "
            "{params.overrides} $resume"
        )


rule evaluate:
    """Per-track metrics JSON and plots of a run's best checkpoint on the held-out split."""
    input:
        ckpt=run_ckpt("{run}"),
    output:
        metrics=f"{OUTDIR}/eval/{{run}}/metrics.json",
        plots=directory(f"{OUTDIR}/eval/{{run}}/plots"),
    params:
        genodil=GENODIL,
        split=CFG["evaluate"]["split"],
        batch_size=CFG["evaluate"]["batch_size"],
        device=quoted(DEVICE_ARGS),
    log:
        f"{OUTDIR}/logs/evaluate/{{run}}.log",
    threads: RES["evaluate"]["threads"]
    resources:
        gpu=GPUS,
        mem_mb=RES["evaluate"]["mem_mb"],
        runtime=RES["evaluate"]["runtime"],
    shell:
        logged(
            "OMP_NUM_THREADS={threads} {params.genodil} evaluate --checkpoint {input.ckpt:q} "
            "--split {params.split} --out {output.metrics:q} --plots {output.plots:q} "
            "--batch-size {params.batch_size} {params.device}"
        )
