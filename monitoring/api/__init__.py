"""REST API of monitoring, one module per concept."""
