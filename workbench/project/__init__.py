"""The project file (SQLite): sources, settings, the durable journal of curator ops, current state."""
