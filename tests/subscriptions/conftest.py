"""The API clients of the named cast (``client_for``) come from the API tests' fixtures."""

from tests.api.conftest import _fresh_rate_limits, client_for

__all__ = ["_fresh_rate_limits", "client_for"]
