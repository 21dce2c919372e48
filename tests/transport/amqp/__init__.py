"""Tests of the RabbitMQ backend of the AMQP transport (a real broker)."""
