"""Destinations of the delivery pipeline that speak another system's API."""
