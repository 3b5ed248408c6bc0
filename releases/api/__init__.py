"""REST API, one module per concept.

Every view is the same three steps: load what the caller may see through ``releases.access``
(404 otherwise), check the right to act (403 with who may), validate the input with a serializer
and call one service. Refusals from services become 409 in ``lib.rest.errors.exception_handler``.
"""
