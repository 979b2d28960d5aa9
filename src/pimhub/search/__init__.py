"""Full-text search over catalog objects: the documents an object is indexed as (pure), the
SearchIndex protocol, and its SQLite FTS5 and PostgreSQL implementations."""
