"""Meter simulator: a plant model (pure, ``model``) served by a real Modbus server (``server``)."""

from gateway.simulator.model import Event, PlantModel, PlantProfile, plant_values

__all__ = ["Event", "PlantModel", "PlantProfile", "plant_values"]
