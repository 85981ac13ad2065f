"""embnorm: a reproduction of "On the Importance of Embedding Norms in Self-Supervised Learning" (ICML 2025)."""

__version__ = "0.1.0"
