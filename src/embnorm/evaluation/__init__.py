"""Evaluation of learned features, shared by training's monitor and the analyses: the weighted kNN classifier.

It sits below `train/` and `analysis/` (imports only go downward), so an analysis never depends on training code.
"""
