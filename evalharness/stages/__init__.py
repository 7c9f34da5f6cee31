"""The pipeline stages: generate, judge, probes, validate, and the chain that runs them."""
