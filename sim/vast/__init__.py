"""Simulated Vast.ai REST API with a realistic instance lifecycle and fault switches."""
