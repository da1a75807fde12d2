"""EMUSA gateway: polls Modbus meters and publishes readings to MQTT.

Also home of the pieces every service shares without network or database imports:
the canonical quantity registry (``contract.quantities``).
"""
