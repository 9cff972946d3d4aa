r"""Beam DirectRunner (2 worker processes) vs the local --sharded mode vs Google's original, one run.

People's Daily concatenated --copies times (default 4; documents simply continue), the flags of
benchmarks/create_pretraining_data_speed.py (seq 128, dupe_factor 5, vocab from build_vocab),
each job in its own subprocess:

  original   bert-tensorflow 1.0.4 (one process)
  local      python -m data_prep.create_pretraining_data --sharded --num_workers=2 (same records)
  beam       python -m data_prep.create_pretraining_data_beam --runner=FnApiRunner
             --direct_running_mode=multi_processing --direct_num_workers=2 (DirectRunner's engine,
             named directly: DirectRunner would first try to download the Prism runner)

Prints instances/s (after imports, as each job reports it), the peak RSS of every process (Beam: the runner and each SDK worker), the
Beam output checked byte for byte against the local one, where Beam's time goes (milliseconds
inside our steps, from the msec_* counters; the rest is the runner moving and encoding data),
and Beam's per-worker peak RSS at 1x and at --copies x.

Usage:
  python benchmarks/create_pretraining_data_beam.py [--copies=4] [--dupe_factor=5]
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
from benchmarks import create_pretraining_data_speed as speed  # noqa: E402  pylint: disable=g-import-not-at-top

BEAM = ["--runner=FnApiRunner", "--direct_running_mode=multi_processing", "--direct_num_workers=2"]


def run_module(module, args):
  """Runs `python -m module args`; returns (stdout, wall s, CPU s of the tree, {pid: (command, peak RSS MB)})."""
  start = time.time()
  with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
    process = subprocess.Popen([sys.executable, "-m", module, *args], stdout=out, stderr=err, cwd=REPO,
                               env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=REPO))
    peaks, names = {}, {}
    while True:
      pid, status, usage = os.wait4(process.pid, os.WNOHANG)
      if pid:
        break
      for p, (rss, _) in speed.tree_memory_kb(process.pid).items():
        peaks[p] = max(peaks.get(p, 0), rss / 1024)
        if p not in names:
          try:
            with open("/proc/%d/cmdline" % p, "rb") as f:
              names[p] = f.read().replace(b"\0", b" ").decode(errors="replace")
          except OSError:
            names[p] = "?"
      time.sleep(0.1)
    out.seek(0)
    err.seek(0)
    if os.waitstatus_to_exitcode(status):
      raise RuntimeError("%s failed: %s" % (module, err.read()[-3000:]))
    names[process.pid] = "main"
    return out.read(), time.time() - start, usage.ru_utime + usage.ru_stime, {
        p: (names.get(p, "?"), peak) for p, peak in peaks.items()}


def instances_and_seconds(stdout):
  """(instances, seconds of the job after imports) from the summary line of either script."""
  match = re.search(r"-> (\d+) instances.* ([0-9.]+) s, \d+ instances/s", stdout)
  return int(match.group(1)), float(match.group(2))


def describe(processes):
  """'main 512 MB, SDK worker 300 MB, ...': the processes that lived past start-up (> 50 MB)."""
  parts = []
  for name, peak in sorted(processes.values(), key=lambda item: item[0] != "main"):
    if peak >= 50:
      role = "main" if name == "main" else ("SDK worker" if "sdk_worker_main" in name else "pool worker")
      parts.append("%s %.0f MB" % (role, peak))
  return ", ".join(parts)


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--input_file", default=speed.DEFAULT_INPUT)
  parser.add_argument("--copies", type=int, default=4)
  parser.add_argument("--dupe_factor", type=int, default=5)
  parser.add_argument("--original", default=True, action=argparse.BooleanOptionalAction,
                      help="also run Google's original (--no-original on a machine too busy for it)")
  args = parser.parse_args()
  from data_prep import documents, wordpiece_vocab  # pylint: disable=g-import-not-at-top
  print("uptime at start:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(), flush=True)
  with tempfile.TemporaryDirectory(dir=os.path.join(REPO, "runs") if os.path.isdir(os.path.join(REPO, "runs")) else None) as tmp:
    counts = wordpiece_vocab.count_words(documents.read_lines([args.input_file]), do_lower_case=True)
    vocab = wordpiece_vocab.write_vocab(wordpiece_vocab.build_vocab(counts, 8000), os.path.join(tmp, "vocab.txt"))
    text = open(args.input_file, "rb").read()
    text = text if text.endswith(b"\n\n") else text.rstrip(b"\n") + b"\n\n"
    inputs = {}
    for copies in sorted({1, args.copies}):
      inputs[copies] = os.path.join(tmp, "input_x%d.txt" % copies)
      with open(inputs[copies], "wb") as f:
        f.write(text * copies)
    flags = ["--vocab_file=" + vocab, "--dupe_factor=%d" % args.dupe_factor, "--max_seq_length=128",
             "--max_predictions_per_seq=20", "--random_seed=12345", "--docs_per_shard=256"]
    print("input %s x%d (%.1f MB), dupe_factor %d" % (args.input_file, args.copies,
                                                      os.path.getsize(inputs[args.copies]) / 2**20, args.dupe_factor))
    out = {name: os.path.join(tmp, name + ".tfrecord") for name in ("original", "local", "beam", "beam1")}
    rows = [("original (bert-tensorflow 1.0.4)", 0, 1.0, 0.0, float("nan"), "not run")]
    if args.original:
      result, wall, cpu, peak_mb, peaks = speed.measure([
          "--run=original", "--input_file=" + inputs[args.copies], "--vocab_file=" + vocab,
          "--dupe_factor=%d" % args.dupe_factor, "--output_file=" + out["original"]])
      rows = [("original (bert-tensorflow 1.0.4)", result["instances"], result["seconds"], wall,
               result["instances"] / result["seconds"], "one process %.0f MB" % max(peaks.values()))]
      print("%-32s %7d instances %7.1f s (process %7.1f s) %7.0f instances/s  peak RSS: %s" % rows[-1], flush=True)
    for name, module, extra in (("local --sharded, 2 workers", "data_prep.create_pretraining_data",
                                 ["--sharded", "--num_workers=2"]),
                                ("beam DirectRunner, 2 workers", "data_prep.create_pretraining_data_beam", BEAM)):
      key = "local" if name.startswith("local") else "beam"
      stdout, wall, cpu, processes = run_module(module, ["--input_file=" + inputs[args.copies],
                                                         "--output_file=" + out[key], *flags, *extra])
      count, seconds = instances_and_seconds(stdout)
      rows.append((name, count, seconds, wall, count / seconds, describe(processes)))
      print("%-32s %7d instances %7.1f s (process %7.1f s) %7.0f instances/s  peak RSS: %s" % rows[-1], flush=True)
      if key == "beam":
        steps = re.search(r"seconds inside the steps.*", stdout).group(0)
    same = open(out["beam"], "rb").read() == open(out["local"], "rb").read()
    if os.environ.get("KEEP_OUTPUTS"):
      import shutil  # pylint: disable=g-import-not-at-top
      for name in ("beam", "local"):
        shutil.copy(out[name], os.path.join(os.environ["KEEP_OUTPUTS"], name + ".tfrecord"))
      shutil.copy(vocab, os.environ["KEEP_OUTPUTS"])
      shutil.copy(inputs[args.copies], os.environ["KEEP_OUTPUTS"])
    print("beam output identical to the local --sharded output (bytes): %s" % same)
    print("instances/s ratios: local / original %.2f, beam / original %.2f, beam / local %.2f"
          % (rows[1][4] / rows[0][4], rows[2][4] / rows[0][4], rows[2][4] / rows[1][4]))
    print("beam: %s s; the rest of its %.0f s is the runner encoding, moving and grouping data"
          % (steps, rows[2][2]))
    _, _, _, processes1 = run_module("data_prep.create_pretraining_data_beam",
                                     ["--input_file=" + inputs[1], "--output_file=" + out["beam1"], *flags, *BEAM])
    print("beam peak RSS per process at 1x: %s;  at %dx: %s" % (describe(processes1), args.copies, rows[2][5]))
  print("uptime at end:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
  main()
