"""The package's import arrows, read from the source (ast): no cycles, no flags in the library,
data prep free of model and training code.

Every `import` counts, at module level or inside a function: a function-level import hides a cycle
from Python but not from a reader.
"""

import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("bert_tf2", "data_prep")

# Commands that live inside the packages (`python -m data_prep.build_vocab`, the console scripts) and
# the scripts' shared helper: they are the scripts layer, so they may read flags; no library module
# may import them.
ENTRY_POINTS = {
    "bert_tf2.core.cli", "bert_tf2.serving.start", "data_prep.build_vocab", "data_prep.create_pretraining_data",
    "data_prep.create_pretraining_data_beam", "data_prep.common_flags", "data_prep.inspect_tfrecord",
}
# What data prep may not reach: the encoder, task models, training, weights and serving.
MODEL_CODE_PREFIXES = (
    "bert_tf2.modeling", "bert_tf2.layers", "bert_tf2.core.training", "bert_tf2.tasks.pretraining.model", "bert_tf2.tasks.classification.model",
    "bert_tf2.retrieval.model", "bert_tf2.embeddings.encoder", "bert_tf2.optimization", "bert_tf2.core.distribute",
    "bert_tf2.checkpoints", "bert_tf2.interop.hf_weights", "bert_tf2.core.export", "bert_tf2.tasks", "bert_tf2.tasks.tagging.model",
    "bert_tf2.tasks.tagging.crf", "bert_tf2.tasks.squad.model", "bert_tf2.serving.server", "bert_tf2.embeddings.feature_extraction",
)


def _modules():
  """{dotted module name: path} of every .py file of PACKAGES."""
  modules = {}
  for package in PACKAGES:
    for directory, _, files in os.walk(os.path.join(ROOT, package)):
      for name in files:
        if name.endswith(".py"):
          path = os.path.join(directory, name)
          parts = os.path.relpath(path, ROOT)[:-3].split(os.sep)
          modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
  return modules


MODULES = _modules()


def _imports(module, path):
  """[(imported dotted name, line, at module level)] of one file, resolved to our modules when they are ours."""
  tree = ast.parse(open(path, encoding="utf-8").read(), path)
  top_level = {id(node) for node in tree.body}
  package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
  found = []
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
      base = node.module or ""
      if node.level:
        base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1] + ([base] if base else []))
      # `from pkg import mod` imports the module pkg.mod; `from mod import name` imports mod.
      names = [base + "." + alias.name if base + "." + alias.name in MODULES else base for alias in node.names]
      names += ["absl.flags"] if base == "absl" and any(a.name in ("flags", "app") for a in node.names) else []
    else:
      continue
    for name in names:
      found.append((name, node.lineno, id(node) in top_level))
  return found


IMPORTS = {module: _imports(module, path) for module, path in MODULES.items()}


def _graph(module_level_only=False):
  return {module: {name for name, _, top in imports if name in MODULES and (top or not module_level_only)}
          for module, imports in IMPORTS.items()}


def _find_cycle(graph):
  """One cycle as [a, b, ..., a], or None (depth-first search)."""
  state, stack = {}, []

  def visit(node):
    state[node] = "open"
    stack.append(node)
    for nxt in sorted(graph[node]):
      if state.get(nxt) == "open":
        return stack[stack.index(nxt):] + [nxt]
      if nxt not in state:
        cycle = visit(nxt)
        if cycle:
          return cycle
    stack.pop()
    state[node] = "done"
    return None

  for node in sorted(graph):
    if node not in state:
      cycle = visit(node)
      if cycle:
        return cycle
  return None


def test_find_cycle_hand_worked():
  assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
  assert _find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_resolves_relative_and_from_imports():
  names = {name for name, _, _ in IMPORTS["bert_tf2.tasks.classification.task"]}
  assert {"bert_tf2.core.features", "bert_tf2.tasks.runner", "bert_tf2.tasks.classification.model"} <= names


def test_entry_points_exist():
  assert ENTRY_POINTS <= set(MODULES), sorted(ENTRY_POINTS - set(MODULES))


def test_no_import_cycle():
  cycle = _find_cycle(_graph())
  assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_library_never_imports_absl_flags():
  offenders = ["%s:%d" % (MODULES[module], line) for module, imports in IMPORTS.items()
               if module not in ENTRY_POINTS for name, line, _ in imports if name.startswith("absl.flags")]
  assert not offenders, "library modules reading flags (move them to scripts/): %s" % offenders


def test_library_never_imports_an_entry_point():
  offenders = ["%s imports %s" % (module, name) for module, imports in IMPORTS.items()
               if module not in ENTRY_POINTS for name, _, _ in imports if name in ENTRY_POINTS]
  assert not offenders, offenders


def _is_job(module):
  """The runner, the registry, each family's task definition and the other jobs: they wire models,
  data and the loop together."""
  return (module in ("bert_tf2.tasks.runner", "bert_tf2.tasks.registry", "bert_tf2.embeddings.extract_features",
                     "bert_tf2.interop.ecosystem_export") or module.endswith((".task", ".job")))


def test_models_and_data_never_import_jobs():
  """Nothing below the task layer (models, data, metrics, exports, layers) may import a job."""
  offenders = ["%s imports %s" % (module, name) for module, imports in IMPORTS.items()
               if not _is_job(module) and module not in ENTRY_POINTS
               for name, _, _ in imports if _is_job(name)]
  assert not offenders, offenders


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("data_prep")))
def test_data_prep_does_not_reach_model_or_training_code(module):
  direct = [name for name, _, _ in IMPORTS[module] if name.startswith(MODEL_CODE_PREFIXES)]
  assert not direct, "%s imports %s" % (module, direct)
  # And not through a module it imports at load time.
  graph, seen, todo = _graph(module_level_only=True), set(), [module]
  while todo:
    current = todo.pop()
    for name in graph[current] - seen:
      seen.add(name)
      todo.append(name)
  reached = sorted(name for name in seen if name.startswith(MODEL_CODE_PREFIXES))
  assert not reached, "%s loads %s" % (module, reached)
