"""HTML views of approvals, one module per concept."""
