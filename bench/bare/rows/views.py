from django.shortcuts import render

from rows.models import Row


def list50(request):
    """The bare floor: a 50-row list from one query."""
    rows = list(Row.objects.order_by("id").values("id", "action", "at")[:50])
    return render(request, "list50.html", {"rows": rows})
