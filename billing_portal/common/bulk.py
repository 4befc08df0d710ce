"""Bulk writes for set-based runs (the monthly invoice run): one COPY instead of INSERTs built per row."""

from django.db import connection
from django.db.models import DateField, DecimalField, Field, ForeignKey, IntegerField, JSONField
from django.db.models.fields import AutoFieldMixin


def _keeps_value(field) -> bool:
    """Whether saving writes the attribute's value unchanged (no auto_now, no JSON adaptation, no quantizing)."""
    if isinstance(field, JSONField | DecimalField):
        return False
    if isinstance(field, DateField):  # dates and aware datetimes go as they are
        return not (field.auto_now or field.auto_now_add)
    if isinstance(field, ForeignKey):  # the id in `attname`
        return isinstance(field.target_field, AutoFieldMixin | IntegerField)
    return type(field).pre_save is Field.pre_save and type(field).get_db_prep_save is Field.get_db_prep_save


def copy_insert(objs, *, with_ids: bool = False) -> None:
    """Insert unsaved model instances of one model with one COPY (what bulk_create writes, without building an
    INSERT per 500 rows): each field's value is prepared as Django prepares it for saving. `with_ids`: take ids
    from the table's sequence first and set them on the instances (they are referred to afterwards)."""
    if not objs:
        return
    model = type(objs[0])
    table = model._meta.db_table
    fields = [f for f in model._meta.concrete_fields if with_ids or not f.primary_key]
    with connection.cursor() as cursor:
        if with_ids:
            pk = model._meta.pk.column
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [table, pk, len(objs)],
            )
            for obj, (new_id,) in zip(objs, cursor.fetchall(), strict=True):
                obj.pk = new_id
        columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
        # Plain values (ints, strings, dates, aware datetimes, Decimals, None) go as they are; fields that change
        # or adapt their value on save (auto_now, JSON, …) are prepared as Django prepares them.
        plain = [_keeps_value(f) for f in fields]
        attnames = [f.attname for f in fields]
        with cursor.cursor.copy(f"COPY {connection.ops.quote_name(table)} ({columns}) FROM STDIN") as copy:
            for obj in objs:
                values = obj.__dict__
                copy.write_row(
                    [
                        values[attname] if keep else f.get_db_prep_save(f.pre_save(obj, True), connection)
                        for f, attname, keep in zip(fields, attnames, plain, strict=True)
                    ]
                )
    for obj in objs:
        obj._state.adding = False
        obj._state.db = connection.alias
