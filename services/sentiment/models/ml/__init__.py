"""Shipped default sentiment model artifacts (package data: model.npz, card.json, MODEL_CARD.md)."""
