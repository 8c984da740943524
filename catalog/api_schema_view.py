"""``/api/schema/``: drf-spectacular's view, safe under a threaded server.

Apart from ``catalog.api_schema`` because DRF imports that module (``DEFAULT_SCHEMA_CLASS``)
while ``drf_spectacular.views`` is being imported.
"""

from __future__ import annotations

import threading

from drf_spectacular.views import SpectacularAPIView


class SchemaView(SpectacularAPIView):
    """``/api/schema/``, generated one request at a time.

    drf-spectacular resolves its extensions' target classes lazily, on the first schema request,
    and two threads doing it at once break each other (``'NoneType' object has no attribute
    'startswith'`` in ``OpenApiViewExtension._load_class``): concurrent first requests to a
    gunicorn thread worker were 500s. Generation takes a fraction of a second and is rare, so
    it is serialised per process.
    """

    _lock = threading.Lock()

    def _get_schema_response(self, request):
        with self._lock:
            return super()._get_schema_response(request)
