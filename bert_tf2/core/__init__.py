"""What every task family shares: input/output checks, one-line errors, strategies, the one training
loop, `InputExample`/`InputFeatures` packing, SavedModel pieces."""
