"""Production spot code: what the master, the worker and the local cloud run.

`prices` (EC2 and CSV price sources), `history` (price series), `availability` (capacity
traces), `eras` (each era's interruption and billing rules), `cost` (what an attempt cost),
the broker (`broker`, with `expectation`, `outlook` and `interval`) that places a job, and
`region_scoring` (the broker's placements across regions, ranked with the move's cost).
Everything is pure except `prices.py`. The simulation of `cbas simulate` lives in
`cbas_async.sim`, which builds on this package and is never imported by it.

This file imports nothing, so importing a submodule does not load numpy.
"""
