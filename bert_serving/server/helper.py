"""`from bert_serving.server.helper import get_args_parser`: the server's flags (bert_tf2.serving.start)."""
from bert_tf2.serving.start import get_args_parser

__all__ = ["get_args_parser"]
