"""Sentence embeddings (`encoder.SentenceEncoder`, bert-as-service pooling) and Google's extract_features."""
