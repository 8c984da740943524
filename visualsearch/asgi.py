"""The ASGI app. It starts what settings say runs here before Django loads."""

import os

from django.core.asgi import get_asgi_application

from visualsearch.infra import services_ensure

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "visualsearch.settings")

services_ensure()
application = get_asgi_application()
