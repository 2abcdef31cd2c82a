"""Deterministic, made-up sample data for KSON's input formats (see ``sample_data/README.md``)."""
