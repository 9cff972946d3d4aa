"""What the absl entry points share: bad input ends in one line on stderr, not a traceback."""

import os
import sys


def fail(message):
  """Prints `<program>: error: <message>` to stderr and exits with status 1."""
  program = os.path.splitext(os.path.basename(sys.argv[0]))[0]
  print("%s: error: %s" % (program, message), file=sys.stderr)
  sys.exit(1)


def require_flags(flag_values, names):
  """`fail`s on the first of `names` that has no value (some scripts need different flags per mode,
  so not absl's `mark_flags_as_required`)."""
  for name in names:
    if not getattr(flag_values, name):
      fail("--%s is required" % name)
