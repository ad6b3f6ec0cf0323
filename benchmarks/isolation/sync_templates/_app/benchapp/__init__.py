"""The sync app every variant tests: a sessionmaker on a module-level engine."""
