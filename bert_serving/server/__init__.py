"""`from bert_serving.server import BertServer`: bert-as-service's in-process server, on bert_tf2.

    args = get_args_parser().parse_args(["-model_dir", "/tmp/chinese_L-12_H-768_A-12", "-port", "5555"])
    server = BertServer(args)
    server.start()          # serves in a background thread once the model is loaded
    ...
    server.close()          # or BertServer.shutdown(args)
"""
import threading

from bert_tf2.serving import server as serving
from bert_tf2.serving import start as serving_start

__all__ = ["BertServer"]
_RUNNING = {}  # port -> BertServer, for shutdown(args)


class BertServer(threading.Thread):
  """Loads the model from parsed flags and serves it on `-port` (and `-http_port`) until `close()`."""

  def __init__(self, args):
    super().__init__(daemon=True)
    self.args = args
    self.app, self.ports = serving_start.build_app(args)
    self._server = None
    self.is_ready = threading.Event()

  def run(self):
    import uvicorn  # pylint: disable=g-import-not-at-top
    sockets = [serving.bind_socket(self.args.host, p) for p in self.ports]
    self._server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning", access_log=False, log_config=None))
    _RUNNING[self.args.port] = self
    threading.Thread(target=self._mark_ready, daemon=True).start()
    self._server.run(sockets=sockets)

  def _mark_ready(self):
    while not (self._server.started or self._server.should_exit):
      threading.Event().wait(0.01)
    self.is_ready.set()

  def close(self):
    """Stops serving and waits for the thread."""
    if self._server is not None:
      self._server.should_exit = True
    if self.is_alive():
      self.join(timeout=10)
    _RUNNING.pop(self.args.port, None)

  @staticmethod
  def shutdown(args):
    """Stops the in-process server listening on `args.port`."""
    server = _RUNNING.get(args.port)
    if server is not None:
      server.close()
