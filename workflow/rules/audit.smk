# Audit: the provenance manifest (built last by `all`) and `snakemake audit` (only on request; it changes nothing).


rule manifest:
    input:
        # everything `all` builds except the manifest itself, so that the manifest is written after all of it
        lambda wildcards: [f for f in final_outputs() if f != paths.MANIFEST],
    output:
        paths.MANIFEST,
    log:
        paths.fmt(paths.LOGS, name="manifest"),
    localrule: True
    conda:
        "../../envs/embnorm.yaml"
    params:
        # every rule's output patterns as regexes, so that the manifest can name the rule behind each file
        rules=lambda wildcards: json_arg({r.name: output_patterns(r) for r in workflow.rules}),
    shell:
        "embnorm manifest --out {output} --rules {params.rules} > {log} 2>&1"


rule audit:
    log:
        paths.fmt(paths.LOGS, name="audit"),
    localrule: True
    conda:
        "../../envs/embnorm.yaml"
    params:
        results=paths.RESULTS,
        config=json_arg(config),
    shell:
        "embnorm audit {params.results} --config-json {params.config} 2>&1 | tee {log}"
