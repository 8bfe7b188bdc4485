"""The routers of the example host, one module per audience or feature."""
