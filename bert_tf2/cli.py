"""What the absl entry points share: bad input ends in one line on stderr, not a traceback.

    if __name__ == "__main__":
      cli.run(main, outputs=("output_dir",))   # instead of absl's app.run(main)

`run` turns a ValueError/OSError into `<program>: error: <message>` (exit 1) and Ctrl-C into
`<program>: interrupted` (exit 130), and removes the output paths the failed run created, so a
failure leaves no empty directory or partial file behind. The checks themselves live in
`bert_tf2.checks`.
"""

import glob
import os
import shutil
import sys

INTERRUPTED_STATUS = 130  # 128 + SIGINT, what shells report for Ctrl-C


def _program():
  return os.path.splitext(os.path.basename(sys.argv[0]))[0]


def fail(message):
  """Prints `<program>: error: <message>` to stderr and exits with status 1."""
  print("%s: error: %s" % (_program(), message), file=sys.stderr)
  sys.exit(1)


def require_flags(flag_values, names):
  """`fail`s on the first of `names` that has no value (some scripts need different flags per mode,
  so not absl's `mark_flags_as_required`)."""
  for name in names:
    if not getattr(flag_values, name):
      fail("--%s is required" % name)
