"""HTTP adapters: the REST API (and later GraphQL) over the catalog services."""
