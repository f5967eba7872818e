"""Embedding: ONNX Runtime encoder, model registry and conversion, vector cache."""
