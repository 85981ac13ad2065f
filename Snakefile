# embnorm: reproduction of "On the Importance of Embedding Norms in Self-Supervised Learning" (ICML 2025).
# Layout follows the Snakemake workflow catalog: rules per stage in workflow/rules, logic in the embnorm package.
# Another project uses it as a module (docs/module.md): every path below is relative to
# this file or to the working directory's results/ and resources/, and `configfile:` gives way to the module's config.
import os

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


# The checkout (or GitHub tag) this file is read from: the jobs' conda env (envs/embnorm.yaml) installs the package
# from it. Declared with `envvars:`, so that executors pass it on to jobs on other machines.
os.environ["EMBNORM_SOURCE"] = package_source(workflow.current_basedir)


envvars:
    "EMBNORM_SOURCE",


rule all:
    default_target: True
    input:
        final_outputs(),
