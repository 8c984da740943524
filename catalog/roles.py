"""Who a user is to the marketplace. The one definition of each role, used by every app."""

from __future__ import annotations

MODERATORS_GROUP = "moderators"


def user_is_moderator(user) -> bool:
    """Staff, or a member of the "moderators" group: may review duplicate listings."""
    return bool(
        user
        and user.is_authenticated
        and (user.is_staff or user.groups.filter(name=MODERATORS_GROUP).exists())
    )


def user_is_seller(user) -> bool:
    return bool(user and user.is_authenticated and hasattr(user, "seller"))
