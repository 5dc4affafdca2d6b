# Inputs: simulate the demo dataset (when config says so), then check every run's files agree.


if SIMULATE:

    rule simulate:
        """Write the deterministic demo dataset (genome, tracks, variants) into {outdir}/data."""
        output:
            fasta=FASTA,
            vcf=[VCF] if VCF else [],
            # Last: Snakemake touches outputs in order, so the index stays newer than the
            # FASTA and pyfaidx does not rebuild it (concurrently) in every later job.
            fai=f"{FASTA}.fai",
        params:
            genodil=GENODIL,
            out=DATA_ROOT,
            preset=SIMULATE,
            seed=CFG["simulate_seed"],
        log:
            f"{OUTDIR}/logs/simulate.log",
        threads: RES["simulate"]["threads"]
        resources:
            mem_mb=RES["simulate"]["mem_mb"],
            runtime=RES["simulate"]["runtime"],
        shell:
            logged(
                "{params.genodil} simulate --out {params.out:q} --preset {params.preset} "
                "--seed {params.seed}"
            )


checkpoint check_inputs:
    """Check a run's FASTA, bigWigs, BEDs and the VCF agree on chromosome names and lengths.

    `genodil check` reads the run config as `genodil train` will (same --data_root and
    overrides) and indexes the FASTA if needed; then the FASTA's chromosome sizes are written
    for the per-chromosome prediction jobs to fan out over.
    """
    input:
        config=lambda wc: RUNS[wc.run]["config"],
        fasta=FASTA,
        vcf=[VCF] if VCF else [],
    output:
        sizes=f"{OUTDIR}/checks/{{run}}.chrom.sizes",
    params:
        genodil=GENODIL,
        python=PYTHON,
        script=SCRIPTS / "chrom_sizes.py",
        data_root=quoted(DATA_ROOT_ARGS),
        vcf=f"--vcf {shlex.quote(VCF)}" if VCF else "",
        overrides=lambda wc: quoted(RUNS[wc.run]["overrides"]),
    log:
        f"{OUTDIR}/logs/check/{{run}}.log",
    threads: RES["check"]["threads"]
    resources:
        mem_mb=RES["check"]["mem_mb"],
        runtime=RES["check"]["runtime"],
    shell:
        logged(
            "( {params.genodil} check --config {input.config:q} {params.data_root} "
            "{params.vcf} {params.overrides} && "
            "{params.python:q} {params.script:q} {input.fasta:q} {output.sizes:q} )"
        )
