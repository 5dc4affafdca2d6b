# Predict each chromosome as its own job, then merge the per-chromosome bigWigs per track.


def predict_chroms(run):
    """Chromosomes to predict for a run, from its checked chromosome sizes (a checkpoint)."""
    sizes = read_chrom_sizes(checkpoints.check_inputs.get(run=run).output.sizes)
    if PREDICT_CHROMS == "all":
        return list(sizes)
    missing = [c for c in PREDICT_CHROMS if c not in sizes]
    if missing:
        raise WorkflowError(
            f"predict.chroms names {', '.join(missing)}, which {FASTA} lacks; its chromosomes "
            f"are {', '.join(sizes)}"
        )
    return list(PREDICT_CHROMS)


def predicted_chrom_dirs(wc):
    return [f"{OUTDIR}/predict/{wc.run}/by_chrom/{c}" for c in predict_chroms(wc.run)]


rule predict_chrom:
    """Predict every track over one whole chromosome: by_chrom/{chrom}/<track>.bw."""
    input:
        ckpt=run_ckpt("{run}"),
        fasta=FASTA,
        sizes=chrom_sizes_file("{run}"),
    output:
        directory(f"{OUTDIR}/predict/{{run}}/by_chrom/{{chrom}}"),
    params:
        genodil=GENODIL,
        batch_size=CFG["predict"]["batch_size"],
        rc_average="--rc-average" if CFG["predict"]["rc_average"] else "",
        device=quoted(DEVICE_ARGS),
    log:
        f"{OUTDIR}/logs/predict/{{run}}/{{chrom}}.log",
    threads: RES["predict"]["threads"]
    resources:
        gpu=GPUS,
        mem_mb=RES["predict"]["mem_mb"],
        runtime=RES["predict"]["runtime"],
    shell:
        "end=$(awk -F '\\t' -v c={wildcards.chrom:q} '$1 == c {{print $2}}' {input.sizes:q}); "
        '[ -n "$end" ] || {{ echo "chromosome {wildcards.chrom} is not in {input.sizes}" >&2; '
        "exit 1; }}; "
        + logged(
            "OMP_NUM_THREADS={threads} {params.genodil} predict --checkpoint {input.ckpt:q} "
            '--fasta {input.fasta:q} --region "{wildcards.chrom}:0-$end" --out {output:q} '
            "--batch-size {params.batch_size} {params.rc_average} {params.device} --quiet"
        )


rule merge_track:
    """Merge one track's per-chromosome bigWigs into {outdir}/predict/{run}/{track}.bw."""
    input:
        predicted_chrom_dirs,
    output:
        f"{OUTDIR}/predict/{{run}}/{{track}}.bw",
    params:
        genodil=GENODIL,
        files=lambda wc, input: [f"{d}/{wc.track}.bw" for d in input],
    log:
        f"{OUTDIR}/logs/merge/{{run}}/{{track}}.log",
    threads: RES["merge"]["threads"]
    resources:
        mem_mb=RES["merge"]["mem_mb"],
        runtime=RES["merge"]["runtime"],
    shell:
        logged("{params.genodil} merge-bigwig --out {output:q} {params.files:q}")
