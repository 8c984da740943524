from django.urls import NoReverseMatch, reverse

from catalog.roles import user_is_moderator, user_is_seller


def _url(name: str) -> str | None:
    try:
        return reverse(name)
    except NoReverseMatch:
        return None


def navigation(request):
    """The navigation bar's links, by role, so a newcomer finds every page from it."""
    user = getattr(request, "user", None)
    authenticated = bool(user and user.is_authenticated)
    is_seller = user_is_seller(user)
    is_moderator = user_is_moderator(user)
    items = []
    if is_seller and _url("seller-dashboard"):
        items.append({"label": "Seller dashboard", "url": _url("seller-dashboard")})
    elif authenticated and _url("seller-become"):
        items.append({"label": "Sell", "url": _url("seller-become")})
    if is_moderator and _url("moderation-queue"):
        items.append({"label": "Duplicates", "url": _url("moderation-queue")})
    return {
        "nav_items": items,
        "nav_is_seller": is_seller,
        "nav_is_moderator": is_moderator,
        "login_url": _url("login"),
        "logout_url": _url("logout"),
        "account_url": _url("account"),
    }
