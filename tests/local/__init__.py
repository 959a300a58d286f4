"""Tests of the local cloud: `src/cbas_async/local`."""
