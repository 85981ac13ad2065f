# Audit: the provenance manifest (built last by `all`) and `snakemake audit` (only on request; it changes nothing).


rule manifest:
    conda:
        "../../envs/embnorm.yaml"
    input:
        # everything `all` builds except the manifest itself, so that the manifest is written after all of it
        lambda wildcards: [f for f in final_outputs() if f != paths.MANIFEST],
    output:
        paths.MANIFEST,
    params:
        # every rule's output patterns as regexes, so that the manifest can name the rule behind each file
        rules=lambda wildcards: json_arg({r.name: output_patterns(r) for r in workflow.rules}),
    log:
        paths.fmt(paths.LOGS, name="manifest"),
    localrule: True
    shell:
        "embnorm manifest --out {output} --rules {params.rules} > {log} 2>&1"


rule audit:
    conda:
        "../../envs/embnorm.yaml"
    params:
        results=paths.RESULTS,
        config=json_arg(config),
    log:
        paths.fmt(paths.LOGS, name="audit"),
    localrule: True
    shell:
        "embnorm audit {params.results} --config-json {params.config} 2>&1 | tee {log}"
