"""Background tasks of the assignment engine."""
