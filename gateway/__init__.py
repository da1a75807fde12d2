"""EMUSA gateway: polls Modbus meters and publishes readings to MQTT.

Modules build on each other without a cycle (imports inside functions included), lowest
first: ``decode`` -> ``mapmodel`` -> ``plantfile`` -> ``registers`` (every map loads here)
-> ``config`` -> ``transport`` -> ``meter`` -> ``scan`` -> ``buses`` (a bus gets its parts,
an RTU bus its port finder) -> ``poller``, ``publisher`` -> ``service`` -> the CLI. The
simulator (``gateway.simulator``) imports the gateway's modules; only the ``simulate``
command imports it. What the three services share lives in ``contract/``.
"""
