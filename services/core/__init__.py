"""The platform core shared by the four services: settings, Ray connection, data catalog, readers,
inline request shapes, errors, health, logging, chunked Ray mapping and the async job model.

Import from the submodules (``services.core.app``, ``services.core.catalog`` …); see ``docs/CORE.md``.
"""
