"""Webhook delivery of outbox events: endpoints, signing, retry policy, dispatcher."""
