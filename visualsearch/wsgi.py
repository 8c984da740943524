"""The WSGI app (gunicorn). It starts what settings say runs here before Django loads."""

import os

from django.core.wsgi import get_wsgi_application

from visualsearch.infra import services_ensure

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "visualsearch.settings")

services_ensure()
application = get_wsgi_application()
