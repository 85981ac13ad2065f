"""Adapters of the public monitoring API (`embnorm.monitor`) to training frameworks. Each one imports its framework,
which is an optional extra; the core package never imports them.

- `embnorm.integrations.lightning.NormMonitorCallback`: PyTorch Lightning (`pip install embnorm[lightning]`).
"""
