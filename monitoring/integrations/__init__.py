"""Integration adapters: one module per provider behind the interface in ``base``.

Pure Python and HTTP, no database: the poller turns Integration and Check rows into
``Connection`` and ``CheckSpec`` values and stores the ``Observation`` values it gets back.
"""
