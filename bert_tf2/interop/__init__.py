"""Weights out to other tools: Hugging Face directories, keras-hub presets, TF Hub-style SavedModels."""
