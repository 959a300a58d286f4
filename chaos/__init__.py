"""A seeded chaos harness for cbas-async on the local cloud (`python -m chaos`).

It runs a mixed workload while killing workers and masters, sending spot notices and
replaying pings, then checks the reliability invariants of docs/RELIABILITY.md.
"""
