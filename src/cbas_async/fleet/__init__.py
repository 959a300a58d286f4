"""The deployment's instances and masters as a master sees them: launching instances and
their tags (`launcher`, `tags`), the heartbeats heard from them (`tracker`), and the
masters' leases (`lease`). Shared by the master, its handlers, the web face and the local
cloud; it imports none of them."""
