"""The core's own pages, one module per concept: a project's metrics and the API tokens pages.

Pages that show releases with what the apps above add to them live in ``workspace/views/``.
"""
