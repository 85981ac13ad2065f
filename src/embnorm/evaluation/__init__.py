"""Evaluation of learned features, shared by training, the embed stage and the analyses: the weighted kNN classifier
(`knn.py`), feature extraction in float32 with re-estimated BatchNorm statistics and the choice of device
(`features.py`), and a run's encoder at initialisation, rebuilt from its seed (`initial.py`).

It sits below `train/`, `embed.py` and `analysis/` (imports only go downward), so neither the embed stage nor an
analysis depends on training code.
"""
