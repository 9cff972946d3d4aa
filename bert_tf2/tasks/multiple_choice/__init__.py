"""Multiple choice (SWAG, C3): one BERT pass per option, a softmax over the options."""
