"""The worker: boots from user data, runs one job under checkpointing, reports, resumes anywhere.

`agent.run_worker` is the composition root; `agent.main_worker` is what `cbas worker` calls.
"""
