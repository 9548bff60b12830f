"""Curation: cleaning with reason codes, near-duplicates, grouped splits, building a dataset."""
