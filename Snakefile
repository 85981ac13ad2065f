# embnorm: reproduction of "On the Importance of Embedding Norms in Self-Supervised Learning" (ICML 2025).
# Layout follows the Snakemake workflow catalog: rules per stage in workflow/rules, logic in the embnorm package.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/embed.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/audit.smk"


rule all:
    input:
        final_outputs(),
    default_target: True
