"""Bottom layer: errors, paths, progress/cancel protocol, hashing. No third-party imports beyond numpy."""
