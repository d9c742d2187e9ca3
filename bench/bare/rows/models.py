from django.db import models


class Row(models.Model):
    """One row of the bare floor's only table."""

    action = models.CharField(max_length=64)
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.action} {self.at:%Y-%m-%d %H:%M}"
