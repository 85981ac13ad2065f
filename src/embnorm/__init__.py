"""embnorm: a reproduction of "On the Importance of Embedding Norms in Self-Supervised Learning" (ICML 2025).

The version below is the only place it is written: the package metadata (pyproject.toml reads it), `embnorm --version`,
CITATION.cff and the release tag `v<version>` follow it (CHANGELOG.md says how to release).
"""

__version__ = "0.1.0"
