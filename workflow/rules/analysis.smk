# Analyses: aggregate tables and figures over runs.


rule norm_vs_ood:
    input:
        params=all_params(),
        embeddings=[f for r in RUNS for f in run_embeddings(r)],
    output:
        tsv=report(paths.fmt(paths.TABLE, name="norm_vs_ood"), caption="../report/norm_vs_ood_table.rst", category="Norm vs OOD"),
        md=paths.fmt(paths.TABLE_MD, name="norm_vs_ood"),
        png=report(paths.fmt(paths.FIGURE_PNG, name="norm_vs_ood"), caption="../report/norm_vs_ood.rst", category="Norm vs OOD"),
        pdf=paths.fmt(paths.FIGURE_PDF, name="norm_vs_ood"),
    params:
        runs=list(RUNS),
        layer=ANALYSIS["layer"],
    log:
        paths.fmt(paths.LOGS, name="norm_vs_ood"),
    shell:
        "embnorm analyze ood --runs {params.runs} --layer {params.layer} "
        "--tsv {output.tsv} --md {output.md} --png {output.png} --pdf {output.pdf} > {log} 2>&1"


rule norm_growth:
    input:
        params=all_params(),
        metrics=[paths.fmt(paths.RUN_METRICS, run=r) for r in RUNS],
    output:
        tsv=report(paths.fmt(paths.TABLE, name="training"), caption="../report/training.rst", category="Training"),
        md=paths.fmt(paths.TABLE_MD, name="training"),
        png=report(paths.fmt(paths.FIGURE_PNG, name="norm_growth"), caption="../report/norm_growth.rst", category="Training"),
        pdf=paths.fmt(paths.FIGURE_PDF, name="norm_growth"),
    params:
        runs=list(RUNS),
    log:
        paths.fmt(paths.LOGS, name="norm_growth"),
    shell:
        "embnorm analyze growth --runs {params.runs} "
        "--tsv {output.tsv} --md {output.md} --png {output.png} --pdf {output.pdf} > {log} 2>&1"
