"""bert_tf2: Google BERT on TensorFlow 2 / Keras 3."""
