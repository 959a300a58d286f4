"""cbas-async: batch jobs on cloud spot instances, checkpointed, never losing work."""

__version__ = "0.1.0"
