"""The test suite (a package: helpers import as ``tests.fit.reference``)."""
