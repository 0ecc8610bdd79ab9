"""The event bus: one interface (base.py), two adapters (kafka.py, sql.py)."""
