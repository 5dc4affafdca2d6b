# One Markdown summary of every run: metrics, plots, predicted tracks, variant scores.


def report_items(wc, input):
    """``run:kind=path`` arguments for scripts/report.py."""
    items = []
    for run, spec in RUNS.items():
        items += [
            f"{run}:metrics={OUTDIR}/eval/{run}/metrics.json",
            f"{run}:plots={OUTDIR}/eval/{run}/plots",
        ]
        if PREDICT:
            items += [f"{run}:bigwig={OUTDIR}/predict/{run}/{t}.bw" for t in spec["tracks"]]
        if VCF:
            items += [
                f"{run}:scores={OUTDIR}/variants/{run}/scores.tsv",
                f"{run}:skipped={OUTDIR}/variants/{run}/scores.skipped.tsv",
            ]
    return items


rule report:
    """Gather every run's metrics, plots, predictions and variant scores into report.md."""
    input:
        [p for p in final_outputs() if not p.endswith("report.md")],
    output:
        f"{OUTDIR}/report.md",
    params:
        python=PYTHON,
        script=SCRIPTS / "report.py",
        entries=report_items,
    log:
        f"{OUTDIR}/logs/report.log",
    threads: RES["report"]["threads"]
    resources:
        mem_mb=RES["report"]["mem_mb"],
        runtime=RES["report"]["runtime"],
    shell:
        logged("{params.python:q} {params.script:q} --out {output:q} {params.entries:q}")
