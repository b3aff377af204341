"""The producer: streams a CSV file into RabbitMQ in batches, resumable from Redis."""
