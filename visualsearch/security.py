"""Security headers on every response: Content-Security-Policy and Permissions-Policy.

The pages load scripts, styles and images from this site only (no CDN, no inline script); the
API docs' Swagger UI is served the same way (its start-up script is a separate request). Photos
shown before upload are blob: URLs, and Swagger UI draws data: images.
"""

from __future__ import annotations

from django.conf import settings


class SecurityHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if settings.CONTENT_SECURITY_POLICY:
            response.headers.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        if settings.PERMISSIONS_POLICY:
            response.headers.setdefault("Permissions-Policy", settings.PERMISSIONS_POLICY)
        return response
