from django.db import models


class MeteringUnit(models.Model):
    """A thing that is metered (API calls, disk bytes, …), counted per day/month by sum or max."""

    class Aggregation(models.TextChoices):
        SUM = "sum", "Sum (total)"
        MAX = "max", "Max (maximum)"

    unit_name = models.SlugField(
        max_length=100, unique=True, error_messages={"unique": "A metering unit with this unit name already exists."}
    )
    display_name = models.CharField(max_length=200)
    aggregation = models.CharField(max_length=8, choices=Aggregation.choices, default=Aggregation.SUM)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["unit_name"]

    def __str__(self):
        return self.display_name or self.unit_name
