"""Curation plans over analysis results: rebalance, replay mix, split, export, manifest, report."""
