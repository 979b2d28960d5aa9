"""pimhub: an API-first product information and integration hub."""

__version__ = "0.1.0"
