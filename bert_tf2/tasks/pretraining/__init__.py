"""Pretraining: masked LM + next sentence (`model`), ELECTRA (`electra`), the records reader (`data`)."""
