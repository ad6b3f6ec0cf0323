from django.db import models


class Item(models.Model):
    name = models.TextField()

    class Meta:
        db_table = "items"
