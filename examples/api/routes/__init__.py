"""The routers of the example host, one module per seed audience."""
