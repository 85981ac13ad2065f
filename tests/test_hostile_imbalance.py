"""An imbalance law so steep that some class keeps only one or two images is refused, before planning where the
parent's sizes are known and again on the prepared labels, naming the largest base that keeps every class at the
minimum (`imbalance.min_class_size`, unset: 1 % of n_max rounded up, at least 1)."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import REPO, default_config
from embnorm.config import ConfigError, run_table, validate_config
from embnorm.data.splits import class_sizes, default_min_class_size, imbalanced_indices, law_problem
from embnorm.errors import EmbnormError

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


def test_the_default_minimum_is_one_percent_of_n_max_rounded_up():
    assert [default_min_class_size(n) for n in (1, 40, 100, 101, 500, 5000)] == [1, 1, 1, 2, 5, 50]


def test_a_law_leaving_a_class_one_image_is_refused_naming_the_base_that_keeps_the_minimum():
    assert class_sizes(1000, 2.0, 10)[-1] == 1  # every class keeps an image: the old rule let it through
    problem = law_problem("big", 1000, 2.0, 10)
    assert problem.startswith("datasets.big.imbalance: the law int(1000 * 2.0^-i) over 10 classes leaves class 7 "
                              "(and 2 more) with fewer than 10 training images (class 7: 7;")
    assert "every class keeps at least 10 with base <= 1.6681" in problem
    assert min(class_sizes(1000, 1.6681, 10)) >= 10 > min(class_sizes(1000, 1.6682, 10))
    assert law_problem("big", 1000, 2.0, 10, min_class_size=1) is None  # a stated minimum is the user's choice


def test_a_minimum_above_n_max_is_named():
    assert law_problem("big", 10, 2.0, 3, min_class_size=20) == (
        "datasets.big.imbalance.min_class_size: 20 is more than n_max (10), the images class 0 keeps")


def test_the_config_check_refuses_a_base_of_the_synthetic_parent_before_planning():
    config = default_config()
    config["datasets"]["synthimb"]["imbalance"] = {"base": 1.95}  # n_max: synth's 500 per class; last class 1 image
    validate_config(config, SCHEMA)
    with pytest.raises(ConfigError, match=r"datasets.synthimb.imbalance: .* with fewer than 5 training images .*"
                                          r"base <= 1.6681"):
        run_table(config)
    config["datasets"]["synthimb"]["imbalance"]["min_class_size"] = 1
    assert run_table(config)


def test_the_split_stage_refuses_it_on_the_prepared_labels():
    labels = np.repeat(np.arange(4), 200)  # n_max 200: at least 2 images per class
    with pytest.raises(EmbnormError, match=r"leaves class 3 \(and 0 more\) with fewer than 2 training images"):
        imbalanced_indices(labels, 4, 5.0, dataset="big")  # 200, 40, 8, 1
    indices, audit = imbalanced_indices(labels, 4, 5.0, dataset="big", min_class_size=1)
    assert audit["kept"].tolist() == [200, 40, 8, 1] and len(indices) == 249
