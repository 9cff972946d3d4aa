"""The embedding server (`server`, dynamic `batching`), bert-as-service's client (`client`) and its
`bert-serving-start` command (`start`). `from bert_tf2.serving import BertClient` as before the move:
the client is NumPy and the standard library only, so importing it here costs no TensorFlow."""

from bert_tf2.serving.client import BertClient, BertClientError, ConcurrentBertClient  # noqa: F401
