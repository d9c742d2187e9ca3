from django.utils.functional import SimpleLazyObject

from portal.navigation import nav_items_for


def navigation(request):
    """The navigation of the signed-in person's role, worked out only if the template shows
    it (``base.html`` does; the API's browsable pages and bare templates do not)."""
    user = getattr(request, "user", None)
    if user is None:
        return {"nav_items": []}
    return {"nav_items": SimpleLazyObject(lambda: nav_items_for(user))}
