"""Reader and writer tests; helpers import as ``tests.io.<module>`` (``mutants``)."""
