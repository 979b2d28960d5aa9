"""API keys and scopes (pure domain; storage lives in storage/api_keys.py)."""
