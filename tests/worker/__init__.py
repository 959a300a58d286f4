"""Tests of the worker: `src/cbas_async/worker`."""
