"""Sentiment service: financial-text scoring, model training and social-media analytics."""
