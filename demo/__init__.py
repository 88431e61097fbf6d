"""The Dresden demo data set. It puts every domain app together, so it sits above them, beside
the faces (see the import-linter contract in pyproject.toml); nothing imports it but its commands
and the tests."""
