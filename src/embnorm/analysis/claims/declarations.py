"""Every claim C1-C14 declared once (paper-reference §7 and §7.1): what it says, the statistic, the tables it reads,
its pre-registered rule, its amended rule, whether it is a read-gated confidence claim, and how a run table is judged
to decide it. The checker (`check_claims`), the planner (`plan.undecided_claims`) and the report iterate over
`CLAIMS`; docs/adding-an-analysis.md says how to add one.

Two readings of each claim stand side by side in the claims table:
- the **pre-registered reading** (`verdict`, `reason`): the rules of §7.1 as of 2026-11-30, fixed
  before any result; a confidence claim's read-gate is all-or-nothing;
- the **amended reading** (`amended_verdict`, `amended_reason`): the post-hoc amended rules of 2026-12-02, declared after
  the first claims study was read, so shown beside the pre-registered verdict, never in its place. It gates each
  (model, optimizer, dataset) group of a confidence claim on its own, reads C6 on run-averaged class norms, C13 on
  seed-mean norms, C6's density half, C8 and C9 with two-level bootstrap CIs, and C12's balance comparison only where
  both sets learned. Every other claim reads the same rule (`amended=None`).

A confidence claim (C7-C10) also gets the `untrained` column: its statistic on the runs' encoders at initialisation,
when the tables `<key>_init` are given, so that a reader sees whether training made the effect or found it there.

    >>> [c.id for c in CLAIMS if c.gate is not None]
    ['C7', 'C8', 'C9', 'C10']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

import pandas as pd

from embnorm.analysis.claims import mitigations as mit
from embnorm.analysis.claims import runs, theory
from embnorm.analysis.claims.gate import gated, read_by_group
from embnorm.analysis.claims.inputs import UNTRAINED, Inputs
from embnorm.analysis.simulations import CLAIM_NORMS

Rule = Callable[[Inputs], dict]
Planner = Callable[[pd.DataFrame, dict, Iterable[str]], str]
SAME_RULE = "same rule"
NOT_COMPUTED = "not computed"


@dataclass(frozen=True)
class Claim:
    """One claim. `reads`: the table keys its rules read. `rule`: the pre-registered rule, `Inputs -> verdict.result`.
    `amended`: the amended rule where the statistic's rule changes (None: the pre-registered one). `gate`: for a
    confidence claim, whether its read-gate reads the imbalanced (True) or balanced (False) baseline runs; None: not
    gated. `plan`: the claim's run selection applied to a run table before training, `(training, default weight
    decays, human-labelled sources) -> why the config cannot decide it ('' if it can)`; None: it runs in every config
    (the simulations)."""

    id: str
    text: str
    statistic: str
    reads: tuple[str, ...]
    rule: Rule
    amended: Rule | None = None
    gate: bool | None = None
    plan: Planner | None = None

    @property
    def confidence(self) -> bool:
        return self.gate is not None

    @property
    def untrained_tables(self) -> tuple[str, ...]:
        """The optional tables of the untrained encoders this claim's `untrained` column reads."""
        return tuple(k + UNTRAINED for k in self.reads if k != "training") if self.confidence else ()


CLAIMS: tuple[Claim, ...] = (
    Claim("C1", "The gradient of cos-sim (and InfoNCE) is orthogonal to z and scales as 1/||z|| (Prop. 3.1)",
          "autograd, float64: max |cos(z, grad)| (cos-sim, InfoNCE); max rel. error of ||grad||*||z|| vs sin(phi) "
          "(cos-sim); max rel. error of grad at 2z vs grad/2 at z (InfoNCE)", ("gradients",), theory.c1),
    Claim("C2", "Gradient steps never decrease the embedding norm (Cor. 3.3)",
          "plain GD on free embeddings (cos-sim and InfoNCE losses, float64): fraction of (step, embedding) updates "
          "whose norm does not decrease beyond float64 rounding", ("gd_norms",), theory.c2),
    Claim("C3", "Steps to convergence grow quadratically with the embedding norm (convergence bound, §1.3)",
          "authors' simulation (500 pairs, d = 20, SGD lr 10, mean cos >= 0.999): log-log slope of steps on r over "
          f"r in {list(CLAIM_NORMS)}; steps at r = 1", ("convergence_norm",), theory.c3),
    Claim("C4", "Near-antipodal positive pairs converge slowly (opposite-halves effect)",
          "angle sweep (49 mixes, 500 pairs, d = 20, SGD lr 10): Spearman(initial mean angle, steps)",
          ("convergence_angle",), theory.c4),
    Claim("C5", "Norms grow during SSL training",
          "per run: final / initial mean projector norm (fixed probe batch of ID-train images)", ("training",),
          runs.c5, plan=runs.c5_plan),
    Claim("C6", "Frequent classes and dense regions get larger norms (imbalance and density simulations)",
          "imbalance simulation (4 classes 1:2:4:8, supervised InfoNCE): per run, Spearman(class count, final class "
          "mean norm); density: Spearman(k-NN distance, norm), mean over runs", ("imbalance_norms",
                                                                                  "imbalance_density"),
          theory.c6, amended=theory.c6_amended),
    Claim("C7", "OOD inputs have smaller norms than ID inputs (Fig. 3)",
          "per run: mean norm of OOD train and OOD test / ID-train mean, vs ID test / ID-train mean; AUROC",
          ("norm_vs_ood", "training"), runs.c7, gate=False, plan=runs.c7_plan),
    Claim("C8", "The norm predicts kNN correctness (Fig. 4 left)",
          "per-sample Spearman(norm, leave-one-out kNN correct) on ID train, and its within-class mean",
          ("knn_spearman", "training"), runs.c8, amended=runs.c8_amended, gate=False, plan=runs.c8_plan),
    Claim("C9", "The norm tracks human confidence (Fig. 4 middle/right)",
          "per-sample Spearman(norm, human label = clean label) on ID train; Spearman(norm, CIFAR-10H-style label "
          "entropy) on ID test", ("human_spearman", "training"), runs.c9, amended=runs.c9_amended, gate=False,
          plan=runs.c9_plan),
    Claim("C10", "Minority classes get smaller norms in imbalanced SSL",
          "per imbalanced baseline run: Spearman(class size, class mean norm of its ID-train images)",
          ("class_metrics", "training"), runs.c10, gate=True, plan=runs.c10_plan),
    Claim("C11", "Cut-initialization speeds up convergence",
          "cut-init (c as configured) minus baseline, SGD: test kNN accuracy at the early evaluation and at the last",
          ("training",), mit.c11, plan=mit.c11_plan),
    Claim("C12", "GradScale speeds up convergence, more so on imbalanced data",
          "GradScale (p as configured) minus baseline, SGD: test kNN accuracy at the early evaluation and at the "
          "last, on balanced and imbalanced data", ("training",), mit.c12, amended=mit.c12_amended,
          plan=mit.c12_plan),
    Claim("C13", "Weight decay limits norm growth",
          "per weight-decay sweep (runs equal but for weight decay): Spearman(weight decay, final mean projector "
          "norm)", ("weight_decay", "training"), runs.c13, amended=runs.c13_amended, plan=runs.c13_plan),
    Claim("C14", "Under Adam, too, the mitigations speed up early training (paper setup text; exact statement a [GAP])",
          "under Adam: cut-init and GradScale minus baseline test kNN accuracy at the early evaluation; beside it, "
          "Adam's vs SGD's baseline norm growth", ("training",), mit.c14, plan=mit.c14_plan),
)

# The tables the rules need, and the optional tables of the untrained encoders.
REQUIRED_TABLES = tuple(dict.fromkeys(key for c in CLAIMS for key in c.reads))
UNTRAINED_TABLES = tuple(key for c in CLAIMS for key in c.untrained_tables)


def pre_registered(claim: Claim, inp: Inputs) -> dict:
    """The pre-registered reading: the rule, and for a confidence claim the all-or-nothing read-gate."""
    reading = claim.rule(inp)
    return gated(reading, inp.training, inp.default_wd, claim.gate) if claim.confidence else reading


def amended(claim: Claim, inp: Inputs, pre: dict) -> tuple[str, str]:
    """(verdict, reason) of the amended reading. A claim without an amended rule or gate reads the same rule (its
    verdict is the pre-registered one). The reason names the amended rule and the measured value where they differ
    from the pre-registered reading's."""
    if claim.amended is None and not claim.confidence:
        return pre["verdict"], SAME_RULE
    rule = claim.amended or claim.rule
    reading = read_by_group(rule, inp, claim.reads, claim.gate) if claim.confidence else rule(inp)
    parts = [f"rule: {reading['threshold']}" if reading["threshold"] != pre["threshold"] else "",
             f"measured: {reading['value']}" if reading["value"] and reading["value"] != pre["value"] else "",
             reading["reason"]]
    return reading["verdict"], ". ".join(p for p in parts if p)


def untrained(claim: Claim, inp: Inputs) -> str:
    """A confidence claim's statistic on the untrained encoders' tables (shown, not a rule); `not computed` when they
    are not given; '' for the other claims."""
    if not claim.confidence:
        return ""
    if any(key not in inp.tables for key in claim.untrained_tables):
        return NOT_COMPUTED
    reading = claim.rule(inp.with_tables(**{key: inp[key + UNTRAINED] for key in claim.reads if key != "training"}))
    return reading["value"] or f"{reading['verdict']}: {reading['reason']}"


def claim_row(claim: Claim, inp: Inputs) -> dict:
    """The claim's row of the claims table (columns `verdict.COLUMNS`)."""
    pre = pre_registered(claim, inp)
    verdict, reason = amended(claim, inp, pre)
    return {"claim": claim.id, "claim_text": claim.text, "statistic": claim.statistic, **pre,
            "amended_verdict": verdict, "amended_reason": reason, "untrained": untrained(claim, inp)}
