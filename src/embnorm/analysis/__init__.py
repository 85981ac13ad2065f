"""Aggregate analyses over runs: each reads embeddings and metrics and returns tables."""
