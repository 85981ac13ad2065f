"""Data sources, the prepared-dataset format, human labels and imbalanced splits."""
