"""`from bert_serving.client import BertClient`: bert_tf2's HTTP client (see bert_tf2.serving.client).

`port_out` is accepted and ignored: requests and results share the HTTP connection on `port`.
"""
from bert_tf2.serving.client import BertClient, BertClientError, ConcurrentBertClient, Response, __version__

__all__ = ["__version__", "BertClient", "BertClientError", "ConcurrentBertClient", "Response"]
