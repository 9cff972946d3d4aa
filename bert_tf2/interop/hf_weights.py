"""The tensors of a Hugging Face model directory as NumPy arrays, without PyTorch.

Reads `model.safetensors`, a sharded `model.safetensors.index.json`, or the older
`pytorch_model.bin` (also sharded) that many Chinese BERT repositories still ship. A
`pytorch_model.bin` is a zip holding a pickle of the state dict plus one raw file per storage;
it is unpickled here with a whitelist (tensor rebuild, OrderedDict, storage types) instead of
`torch.load`, so reading one needs no torch and runs no code from the file.

    tensors = read_hf_tensors("bert-base-chinese/")  # {"bert.embeddings.word_embeddings.weight": array, ...}
"""

import collections
import json
import os
import pickle
import zipfile

import numpy as np
import tensorflow as tf

_STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "BFloat16Storage": tf.bfloat16.as_numpy_dtype, "LongStorage": np.int64, "IntStorage": np.int32,
    "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                "pytorch_model.bin.index.json")


def _rebuild_tensor(storage, offset, size, stride, *unused_args):
  """torch._utils._rebuild_tensor_v2: a strided view into a storage, copied out."""
  itemsize = storage.dtype.itemsize
  view = np.lib.stride_tricks.as_strided(storage[offset:], shape=tuple(size),
                                         strides=tuple(s * itemsize for s in stride))
  return np.array(view)


class _StateDictUnpickler(pickle.Unpickler):
  """Unpickles a torch state dict into NumPy arrays; refuses any class it does not know."""

  def __init__(self, file, archive, prefix, path):
    super().__init__(file)
    self._archive, self._prefix, self._path = archive, prefix, path

  def find_class(self, module, name):
    if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
      return _rebuild_tensor
    if (module, name) == ("torch._utils", "_rebuild_parameter"):
      return lambda tensor, *unused: tensor
    if (module, name) == ("collections", "OrderedDict"):
      return collections.OrderedDict
    if module == "torch" and name in _STORAGE_DTYPES:
      return _STORAGE_DTYPES[name]
    raise ValueError("%s: unexpected object %s.%s in a PyTorch state dict" % (self._path, module, name))

  def persistent_load(self, pid):
    # ("storage", storage type, key, location, numel): the storage's bytes are data/<key>.
    _, dtype, key, _, numel = pid
    data = self._archive.read("%sdata/%s" % (self._prefix, key))
    return np.frombuffer(data, dtype=dtype, count=numel)


def read_pytorch_bin(path):
  """{name: array} of a `torch.save`d state dict (the zip format of PyTorch >= 1.6)."""
  if not zipfile.is_zipfile(path):
    raise ValueError("%s: not a zip-format PyTorch file (saved by PyTorch < 1.6?); re-save it with a "
                     "recent PyTorch or convert it to safetensors" % path)
  with zipfile.ZipFile(path) as archive:
    pickles = [n for n in archive.namelist() if n.endswith("data.pkl")]
    if len(pickles) != 1:
      raise ValueError("%s: expected one data.pkl in the archive, found %d" % (path, len(pickles)))
    prefix = pickles[0][:-len("data.pkl")]
    with archive.open(pickles[0]) as f:
      state = _StateDictUnpickler(f, archive, prefix, path).load()
  if not isinstance(state, dict):
    raise ValueError("%s: holds a %s, not a state dict" % (path, type(state).__name__))
  return dict(state)


def _read_file(path):
  if path.endswith(".safetensors"):
    from safetensors.numpy import load_file  # pylint: disable=g-import-not-at-top
    return load_file(path)
  return read_pytorch_bin(path)


def read_hf_tensors(directory):
  """Every tensor of a Hugging Face model directory; safetensors preferred when both are there."""
  for name in WEIGHT_FILES:
    path = os.path.join(directory, name)
    if not os.path.exists(path):
      continue
    if not name.endswith(".index.json"):
      return _read_file(path)
    with open(path, encoding="utf-8") as f:
      shards = sorted(set(json.load(f)["weight_map"].values()))
    tensors = {}
    for shard in shards:
      tensors.update(_read_file(os.path.join(directory, shard)))
    return tensors
  raise ValueError("%s: no Hugging Face weights (%s)" % (directory, ", ".join(WEIGHT_FILES)))
