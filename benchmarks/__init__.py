"""`make bench`: measurements written to docs/BENCHMARKS.md with the command and machine."""
