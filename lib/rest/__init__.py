"""The REST API's conventions, shared by every app's API modules.

- Errors (``errors.py``): ``{"detail": "…"}`` or field errors ``{"field": ["…"]}``; 400 bad
  input, 401 no or bad credentials, 403 not permitted, 404 not found (and everything an outsider
  asks for), 409 a refused transition with the plain-words reason (and ``blockers``, one reason
  each, when there are several), 429 a token over its rate.
- Services raise ``Refused`` / ``NotAllowed`` / Django ``ValidationError``; the exception handler
  turns them into 409 / 403 / 400, so API views only call services and never catch. Who may do
  what is a rule in ``releases.access`` (``rule.check(...)`` raises ``NotAllowed`` with the
  rule's sentence); no API view writes a refusal of its own.
- Strict input (``input.py``): ``validated`` refuses fields the serializer does not take or may
  not set, and ``no_input`` any field sent to an operation that takes none (400, naming each
  field).
- Lists are paginated by page number, 20 a page (``pagination.py``); filters run only when the
  request names one (``filters.py``).
- Bearer tokens (``authentication.py``) and a per-token rate (``throttling.py``) are mechanisms
  here; ``releases.api.tokens`` says what a token is and whom it acts as.
- The OpenAPI schema documents the error answers of every operation (``schema.py``).
- ``parsers.py`` and ``renderers.py`` hold the classes DRF loads while ``rest_framework.views`` is
  still being imported: they must not import ``rest_framework.views`` themselves.
"""
