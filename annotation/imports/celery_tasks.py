"""Background tasks of imports."""
