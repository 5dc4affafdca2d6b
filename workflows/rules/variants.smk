# Score the VCF in shards of N records per run, then concatenate the shards in order.


def vcf_shards():
    """Shard names (shard_0000, ...) written by split_vcf (a checkpoint), in VCF order."""
    shard_dir = checkpoints.split_vcf.get().output[0]
    return sorted(glob_wildcards(f"{shard_dir}/{{shard}}.vcf").shard)


if VCF:

    checkpoint split_vcf:
        """Split the VCF into shards of score_variants.shard_size records, each with the header."""
        input:
            vcf=VCF,
        output:
            directory(f"{OUTDIR}/vcf_shards"),
        params:
            python=PYTHON,
            script=SCRIPTS / "split_vcf.py",
            records=SHARD_SIZE,
        log:
            f"{OUTDIR}/logs/split_vcf.log",
        threads: 1
        resources:
            mem_mb=RES["merge"]["mem_mb"],
            runtime=RES["merge"]["runtime"],
        shell:
            logged(
                "{params.python:q} {params.script:q} --records {params.records} "
                "--out {output:q} {input.vcf:q}"
            )

    rule score_shard:
        """Score one VCF shard with a run's best checkpoint."""
        input:
            ckpt=run_ckpt("{run}"),
            fasta=FASTA,
            vcf=f"{OUTDIR}/vcf_shards/{{shard}}.vcf",
        output:
            scores=f"{OUTDIR}/variants/{{run}}/shards/{{shard}}.tsv",
            skipped=f"{OUTDIR}/variants/{{run}}/shards/{{shard}}.skipped.tsv",
        params:
            genodil=GENODIL,
            scores=CFG["score_variants"]["scores"],
            batch_size=CFG["score_variants"]["batch_size"],
            device=quoted(DEVICE_ARGS),
            extra=quoted(SCORE_EXTRA_ARGS),
        log:
            f"{OUTDIR}/logs/score_variants/{{run}}/{{shard}}.log",
        threads: RES["score_variants"]["threads"]
        resources:
            gpu=GPUS,
            mem_mb=RES["score_variants"]["mem_mb"],
            runtime=RES["score_variants"]["runtime"],
        shell:
            logged(
                "OMP_NUM_THREADS={threads} {params.genodil} score-variants "
                "--checkpoint {input.ckpt:q} --fasta {input.fasta:q} --vcf {input.vcf:q} "
                "--out {output.scores:q} --scores {params.scores:q} "
                "--batch-size {params.batch_size} {params.device} --quiet {params.extra}"
            )

    rule concat_scores:
        """Concatenate a run's shard scores (and skipped variants) into one TSV each."""
        input:
            scores=lambda wc: expand(
                f"{OUTDIR}/variants/{wc.run}/shards/{{shard}}.tsv", shard=vcf_shards()
            ),
            skipped=lambda wc: expand(
                f"{OUTDIR}/variants/{wc.run}/shards/{{shard}}.skipped.tsv", shard=vcf_shards()
            ),
        output:
            scores=f"{OUTDIR}/variants/{{run}}/scores.tsv",
            skipped=f"{OUTDIR}/variants/{{run}}/scores.skipped.tsv",
        params:
            python=PYTHON,
            script=SCRIPTS / "concat_tsv.py",
        log:
            f"{OUTDIR}/logs/concat_scores/{{run}}.log",
        threads: 1
        resources:
            mem_mb=RES["merge"]["mem_mb"],
            runtime=RES["merge"]["runtime"],
        shell:
            logged(
                "{params.python:q} {params.script:q} --out {output.scores:q} {input.scores:q} && "
                "{params.python:q} {params.script:q} --out {output.skipped:q} {input.skipped:q}"
            )
