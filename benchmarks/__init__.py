"""Benchmarks: genserver_lite side by side with bare threads and Pykka, in one process.

Run ``python -m benchmarks`` (``make bench``, about 90 s) or
``python -m benchmarks --quick`` (a smoke run of a few seconds; its figures
mean nothing). ``--json PATH`` writes every figure, ``--plot PATH`` a PNG of
the ratios. See ``docs/performance.md`` for the method and the results.

Modules, one concept each: :mod:`~benchmarks.stats` (percentiles, same-run
ratios, meters), :mod:`~benchmarks.harness` (sizes and the interleaved
repetition loop), :mod:`~benchmarks.systems` (the three adapters),
:mod:`~benchmarks.rows` and :mod:`~benchmarks.alive` (what is measured),
:mod:`~benchmarks.report` (targets, table, JSON), :mod:`~benchmarks.plot`.
"""
