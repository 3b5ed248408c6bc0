"""REST API of approvals, one module per concept."""
