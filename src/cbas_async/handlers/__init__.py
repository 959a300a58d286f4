"""Event handlers, one module per event family; each is idempotent."""
