"""Jobs: train / evaluate / predict / export as library functions, one module a task family.

Each job takes plain arguments (files, sizes, rates) and a `tf.distribute.Strategy` object, and
trains through the one loop, `bert_tf2.training.train`. The absl scripts in `scripts/` parse flags,
build the strategy and call one job:

  jobs.pretraining.run_pretraining              scripts/run_pretraining.py
  jobs.classifier.run_classifier                scripts/run_classifier.py
  jobs.tagging.run_ner                          scripts/run_ner.py
  jobs.squad.run_squad                          scripts/run_squad.py
  jobs.dual_encoder.run_train_dual_encoder      scripts/train_dual_encoder.py
  jobs.extract_features.run_extract_features    scripts/extract_features.py
  jobs.export.export_from_checkpoint            scripts/export_saved_model.py
  jobs.ecosystem_export.export_to_ecosystems    scripts/export_hf.py
  jobs.common                                   what the jobs share

Models, heads, losses and metrics stay in the model modules (`pretraining`, `classifier`,
`retrieval`, `tagging`, `question_answering`); jobs import them, never the other way round
(`tests/test_architecture.py` checks that no import cycle forms).
"""
