"""What the absl entry points share: bad input ends in one line on stderr, not a traceback.

    if __name__ == "__main__":
      cli.run(main, outputs=("output_dir",))   # instead of absl's app.run(main)

`run` turns a ValueError/OSError into `<program>: error: <message>` (exit 1) and Ctrl-C into
`<program>: interrupted` (exit 130), and removes the output paths the failed run created, so a
failure leaves no empty directory or partial file behind. The checks themselves live in
`bert_tf2.core.checks`.

Ctrl-C is handled by `handle_ctrl_c`, which `run` calls and which entry points call before heavy
imports (scripts/common_flags.py, before Keras): a Ctrl-C while TensorFlow, Keras and what Keras
pulls in when installed (pandas, pyarrow, scikit-learn, SciPy) are being imported ends in the same one
line and exit 130. Python's own KeyboardInterrupt there unwinds out of half-initialized extension
modules (seen: `init pyarrow.lib`) into a traceback and the interpreter's teardown, with TensorFlow's
threads still running, where a process can die of SIGSEGV. An interrupted run ends with `os._exit`:
no teardown.
"""

import glob
import os
import shutil
import signal
import sys
import threading

INTERRUPTED_STATUS = 130  # 128 + SIGINT, what shells report for Ctrl-C

# What a Ctrl-C has to clean up: set by `run` while the script's main runs.
_run = {"in_main": False, "interrupted": False, "created": [], "existing": []}


def _program():
  return os.path.splitext(os.path.basename(sys.argv[0]))[0]


def as_flags(message):
  """A library message `name: ...` read as `--name: ...` when `name` is one of this script's flags.

  The library names its arguments (`output_dir: cannot create it in /x: permission denied`); a
  script's flags carry the same names, so its user reads the flag to fix.
  """
  name, sep, _ = message.partition(": ")
  if sep and name.isidentifier() and "absl.flags" in sys.modules:
    from absl import flags  # pylint: disable=g-import-not-at-top
    if name in flags.FLAGS:
      return "--" + message
  return message


def fail(message):
  """Prints `<program>: error: <message>` to stderr (arguments named as flags) and exits with status 1."""
  print("%s: error: %s" % (_program(), as_flags(message)), file=sys.stderr)
  sys.exit(1)


def require_flags(flag_values, names):
  """`fail`s on the first of `names` that has no value (some scripts need different flags per mode,
  so not absl's `mark_flags_as_required`)."""
  for name in names:
    if not getattr(flag_values, name):
      fail("--%s is required" % name)


def _first_missing(path):
  """The outermost of `path` and its ancestors that does not exist (what creating `path` creates)."""
  path = os.path.abspath(path)
  if os.path.lexists(path):
    return None
  while not os.path.lexists(os.path.dirname(path)) and os.path.dirname(path) != path:
    path = os.path.dirname(path)
  return path


def _holds_checkpoint(directory):
  """True if a training checkpoint (TF's `checkpoint` state file) is anywhere under `directory`."""
  return any("checkpoint" in files for _, _, files in os.walk(directory))


def clean_up(created, existing):
  """Removes what a failed run made: the paths in `created` (that did not exist before it), and its
  `*.tmp-<pid>` files in the `existing` output directories. A created directory that holds a
  checkpoint is kept, since rerunning the same command resumes from it. Returns the kept paths."""
  kept = []
  for path in created:
    if os.path.isdir(path) and not os.path.islink(path):
      if _holds_checkpoint(path):
        kept.append(path)
      else:
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
      os.remove(path)
  for directory in existing:
    if os.path.isdir(directory):
      for tmp in glob.glob(os.path.join(glob.escape(directory), "**", "*.tmp-%d" % os.getpid()), recursive=True):
        if os.path.isfile(tmp):
          os.remove(tmp)
  return kept


def _exit_interrupted():
  """Removes what the interrupted run made, prints `<program>: interrupted` and ends the process
  with status 130 without the interpreter's teardown (where TensorFlow's threads, still running, can
  crash it). Ctrl-C is ignored meanwhile, so a second one cannot cut the clean-up short."""
  signal.signal(signal.SIGINT, signal.SIG_IGN)
  kept = clean_up(_run["created"], _run["existing"])
  print("%s: interrupted%s" % (_program(), "".join(
      "; kept %s (run the same command again to resume)" % k for k in kept)), file=sys.stderr)
  sys.stdout.flush()
  sys.stderr.flush()
  os._exit(INTERRUPTED_STATUS)  # pylint: disable=protected-access


# Packages whose Python code runs between C++ calls (tracing, autograph, checkpointing): a
# KeyboardInterrupt raised there can surface inside a C callback that does not expect it (seen: tracing
# `tf.range` ended in `SystemError: listobject.c: bad argument`, wrapped in autograph's StagingError).
_NOT_INTERRUPTIBLE = frozenset(("tensorflow", "keras", "tf_keras", "tensorboard"))


def _in_packages(frame, packages):
  while frame is not None:
    if frame.f_globals.get("__name__", "").partition(".")[0] in packages:
      return True
    frame = frame.f_back
  return False


def _on_sigint(signum, frame):  # pylint: disable=unused-argument
  """Ctrl-C. In the script's main, outside TensorFlow's and Keras' code, a KeyboardInterrupt (once),
  so the code it stops runs its own clean-up (a worker pool is terminated) on the way to `run`.
  Anywhere else (imports, flag parsing, a training step's tracing or checkpointing), or the second
  time (the first was swallowed), the run's outputs are removed and the process ends at once."""
  if _run["in_main"] and not _run["interrupted"] and not _in_packages(frame, _NOT_INTERRUPTIBLE):
    _run["interrupted"] = True
    raise KeyboardInterrupt
  _exit_interrupted()


def handle_ctrl_c():
  """From now on Ctrl-C ends the program with one line and exit 130 (`_on_sigint`), whatever it is
  doing; a SIGINT that is ignored (nohup, `cmd &` in a script) or handled by someone else stays so.
  Called by `run`, and by an entry point before imports that take seconds."""
  if (threading.current_thread() is threading.main_thread()
      and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
    signal.signal(signal.SIGINT, _on_sigint)


def run(main, outputs=("output_dir",), flags_parser=None):
  """`absl.app.run(main)` with one-line errors, a one-line Ctrl-C and no leftovers of a failed run.

  Args:
    main: the script's `main(argv)`; it may raise ValueError/OSError with a one-line message.
    outputs: names of the flags holding output paths (a directory or a file; comma-separated
      lists too). What the run creates there is removed when it fails or is interrupted.
  """
  handle_ctrl_c()
  from absl import app, flags  # pylint: disable=g-import-not-at-top

  def guarded(argv):
    paths = []
    for name in outputs:
      value = flags.FLAGS[name].value if name in flags.FLAGS else None
      paths += [p for p in (value or "").split(",") if p]
    created = [c for c in map(_first_missing, paths) if c]
    existing = [p for p in paths if os.path.isdir(p)]
    _run.update(created=created, existing=existing, in_main=True)
    try:
      try:
        status = main(argv)
      finally:
        _run["in_main"] = False  # from here a Ctrl-C exits at once (`_on_sigint`)
    except BaseException as e:  # pylint: disable=broad-except
      if isinstance(e, KeyboardInterrupt) or _run["interrupted"]:
        _exit_interrupted()  # also when the library turned our KeyboardInterrupt into its own error
      if isinstance(e, (ValueError, OSError)):
        clean_up(created, existing)
        fail(str(e))
      if isinstance(e, SystemExit) and e.code not in (None, 0):
        clean_up(created, existing)
      raise
    if status:
      clean_up(created, existing)
    _run.update(created=[], existing=[])  # finished: a Ctrl-C from now on keeps the outputs
    return status

  app.run(guarded, **({"flags_parser": flags_parser} if flags_parser else {}))


def define_errors_flag():
  """Defines --errors, how a script reads non-UTF-8 text (as data prep's flag of that name)."""
  from absl import flags  # pylint: disable=g-import-not-at-top
  flags.DEFINE_enum("errors", "strict", ["strict", "replace", "ignore"],
                    "Non-UTF-8 input: an error naming file and line (strict), U+FFFD (replace) or dropped (ignore).")
