"""Tests of thermal.fit and their shared helpers (``reference``)."""
