"""The command line's tasks, one module per group; ``tasks.py`` is what invoke loads."""
