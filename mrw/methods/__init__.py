"""The method interface, registry, shared encoders and the one ranking loss (below the harness)."""
