"""Broker destinations: the delivery pipeline publishing to a RabbitMQ exchange."""
