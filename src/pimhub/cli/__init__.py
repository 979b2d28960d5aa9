"""The `pimhub` command line: thin wrappers over the services."""
