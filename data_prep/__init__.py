"""Corpus -> vocab -> pretraining TFRecords."""
