"""Content-Security-Policy on every response.

Scripts and styles come only from this site; an inline `<script>`/`<style>` block runs only
with the per-request nonce (`request.csp_nonce`, in templates `{{ request.csp_nonce }}`).
Images may come from this site, `data:`/`blob:` URIs and the configured tile server, nothing
else. Code that builds HTML outside a template (folium maps) marks its blocks with
`CSP_NONCE_PLACEHOLDER` (see `nonce_blocks`); the middleware swaps it for the request's
nonce. The placeholder is random per process and never leaves the server, so text a user
managed to inject cannot borrow it.
"""

import re
import secrets
from collections.abc import Callable
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse

CSP_NONCE_PLACEHOLDER = f"csp-{secrets.token_hex(16)}"
_BLOCK = re.compile(r"<(script|style)\b(?![^>]*\bnonce=)", re.IGNORECASE)


def nonce_blocks(html: str) -> str:
    """Give every `<script>`/`<style>` tag of trusted, server-built HTML the request's nonce."""
    return _BLOCK.sub(lambda m: f'<{m.group(1)} nonce="{CSP_NONCE_PLACEHOLDER}"', html)


def tile_source() -> str:
    """The tile server as a CSP source: scheme://host, `{s}.` subdomains as a wildcard."""
    url = settings.MAP_TILE_URL.replace("{s}.", "*.")
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc or parts.netloc.startswith("{"):
        return ""
    return f"{parts.scheme}://{parts.netloc}"


def policy(nonce: str) -> str:
    images = " ".join(
        ["'self'", "data:", "blob:", tile_source(), *getattr(settings, "CSP_IMG_EXTRA", [])]
    ).strip()
    directives = [
        "default-src 'self'",
        f"script-src 'self' 'nonce-{nonce}'",
        f"style-src 'self' 'nonce-{nonce}'",
        # Inline style="" attributes (colour dots, Leaflet's positioning) are not third-party
        # style; they cannot load anything.
        "style-src-attr 'unsafe-inline'",
        f"img-src {images}",
        "font-src 'self' data:",
        "connect-src 'self'",
        "worker-src 'self'",
        "manifest-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
    return "; ".join(directives)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        nonce = secrets.token_urlsafe(18)
        request.csp_nonce = nonce
        response = self.get_response(request)
        content_type = response.get("Content-Type", "")
        if (
            content_type.startswith("text/html")
            and not getattr(response, "streaming", False)
            and CSP_NONCE_PLACEHOLDER.encode() in response.content
        ):
            response.content = response.content.replace(
                CSP_NONCE_PLACEHOLDER.encode(), nonce.encode()
            )
            if response.has_header("Content-Length"):
                response["Content-Length"] = str(len(response.content))
        response.setdefault("Content-Security-Policy", policy(nonce))
        return response
