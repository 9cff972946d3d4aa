"""Dynamic batching for the embedding server: requests merged across clients, cut into calls by length.

`DynamicBatcher` queues concurrent requests and hands every waiting one (up to `max_batch_size`
texts) to one `run_fn` call in a worker thread, so the asyncio event loop never waits on the model
and, under load, the encoder never waits between batches. `length_groups` cuts a merged batch into
model calls of similar length (short texts are not padded to the long ones).
"""

import asyncio
import collections
import concurrent.futures
import time

_Job = collections.namedtuple("_Job", ["request", "future"])


class DynamicBatcher:
  """Merges concurrent `submit` calls into `run_fn(requests)` calls of at most `max_batch_size` texts.

  `run_fn(list of EncodeRequest) -> list of per-request results` runs in a worker thread.
  """

  def __init__(self, run_fn, max_batch_size=256, num_worker=1, stats=None):
    self.run_fn, self.max_batch_size, self.num_worker = run_fn, max_batch_size, num_worker
    self.stats = collections.Counter() if stats is None else stats
    self._queue = None
    self._tasks = []
    self._pool = None

  async def start(self):
    self._queue = asyncio.Queue()
    self._pool = concurrent.futures.ThreadPoolExecutor(self.num_worker, thread_name_prefix="encoder")
    self._tasks = [asyncio.create_task(self._work()) for _ in range(self.num_worker)]

  async def stop(self):
    for task in self._tasks:
      task.cancel()
    await asyncio.gather(*self._tasks, return_exceptions=True)
    self._pool.shutdown(wait=False)

  async def submit(self, request):
    """EncodeRequest -> its result, computed in some shared batch."""
    future = asyncio.get_running_loop().create_future()
    await self._queue.put(_Job(request, future))
    return await future

  async def _work(self):
    carried = None  # a job that did not fit the previous batch goes first in the next
    loop = asyncio.get_running_loop()
    while True:
      jobs = [carried or await self._queue.get()]
      carried = None
      size = len(jobs[0].request.texts)
      while not self._queue.empty():
        job = self._queue.get_nowait()
        if size + len(job.request.texts) > self.max_batch_size:
          carried = job
          break
        jobs.append(job)
        size += len(job.request.texts)
      start = time.perf_counter()
      try:
        results = await loop.run_in_executor(self._pool, self.run_fn, [job.request for job in jobs])
      except Exception as e:  # pylint: disable=broad-except
        self.stats["failed_batches"] += 1
        for job in jobs:
          if not job.future.done():
            job.future.set_exception(e)
        continue
      self.stats.update(batches=1, batched_requests=len(jobs), batched_texts=size)
      self.stats["batch_seconds"] += time.perf_counter() - start
      for job, result in zip(jobs, results):
        if not job.future.done():  # the client may have gone away
          job.future.set_result(result)


def length_groups(lengths, overhead_tokens=64, max_group_size=None):
  """Splits texts into model calls of similar length, minimising padded tokens + per-call overhead.

  Cost of a call = overhead_tokens + (texts in it) * (its longest text); dynamic programming over
  the texts sorted by length, at most `max_group_size` texts a call (None: no cap).
  Example: length_groups([5, 30, 6, 31], 8) -> [[0, 2], [1, 3]]. Returns a list of index lists.
  """
  order = sorted(range(len(lengths)), key=lambda i: lengths[i])
  sizes = [lengths[i] for i in order]
  n = len(sizes)
  best, cut = [0.0] + [float("inf")] * n, [0] * (n + 1)  # best[j]: cost of the first j sorted texts
  for j in range(1, n + 1):
    for i in range(max(0, j - max_group_size) if max_group_size else 0, j):  # last group: sorted[i:j]
      cost = best[i] + overhead_tokens + (j - i) * sizes[j - 1]
      if cost < best[j]:
        best[j], cut[j] = cost, i
  groups, j = [], n
  while j > 0:
    groups.append(order[cut[j]:j])
    j = cut[j]
  return groups[::-1]
