"""Digital assets: files the catalog refers to, their blob stores and thumbnails."""
