"""Sentence (pair) classification, multi-label and regression: run_classifier.py's family."""
