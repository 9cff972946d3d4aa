"""bert_tf2: Google BERT on TensorFlow 2 / Keras 3.

Keras finds our classes (`BertModel`, `BertPretrainer`, `BertClassifier`, `DualEncoder`, `BertTagger`,
their layers, `BertConfig`, the optimizers) under their registered names ("bert_tf2>BertModel"), which
exist once the modules defining them are imported. `import bert_tf2` imports those modules when
Keras or TensorFlow is already imported, so

    import keras, bert_tf2
    model = keras.models.load_model("m.keras")     # no custom_objects

works; without either (data prep, the HTTP client) the package stays free of TensorFlow. Imported
the other way round, call `bert_tf2.register_keras_objects()` before loading.
"""

import importlib
import sys

# The modules that register Keras-serializable classes (package "bert_tf2").
# A module adding a registered class adds its name here (tests/test_keras_serialization.py checks).
KERAS_MODULES = ("layers", "modeling", "optimization", "tasks.pretraining.model", "tasks.pretraining.electra",
                 "tasks.classification.model", "tasks.tagging.model", "tasks.tagging.crf", "tasks.squad.model",
                 "retrieval.model", "tasks.multiple_choice.model")


def register_keras_objects():
  """Imports every module of KERAS_MODULES, so Keras can deserialize each of bert_tf2's classes."""
  for name in KERAS_MODULES:
    importlib.import_module("bert_tf2." + name)


if "keras" in sys.modules or "tensorflow" in sys.modules:
  register_keras_objects()
