"""EMUSA ingestor: MQTT readings -> validated batches -> TimescaleDB. Owns the schema."""
