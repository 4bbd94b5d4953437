"""The simulator: catalogue, audience, session dynamics and the environments built on them."""
