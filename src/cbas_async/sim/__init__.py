"""Simulation for `cbas simulate`: replay spot traces against policies, offline.

`trace` (a market trace on a grid) and `priced` (trace files that name their zone, region
and prices), `state` and `step` (the vectorised simulator state and one step of it),
`simulator` and `fastforward` (running a policy over a trace), `plans`, the policies
(`baselines`, `checkpointing`, `deadline`, `uniform_plan`, `uniform_multi`, `broker_policy`,
`broker_plan`, `region_broker` (which ranks regions with `spot.region_scoring`), and
`progress`, `safety` and `risk`), `oracle` (the offline optimum), `catalog` (policies by
name), `scenario`, `report` and `plot` (the command's input and output) and `cli` (the
command). `options` is light: the `cbas` parser every process builds imports it.

This file imports nothing, so `cbas --help` does not load numpy.
"""
