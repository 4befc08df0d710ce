"""Writes of the metering app: authentication-event ingest with exact MAU, meter readings, MAU alerts."""

from datetime import UTC, datetime, timedelta

import orjson
from django.apps import apps
from django.db import DataError, IntegrityError, connection, transaction
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.models import RelyingParty
from billing_portal.common import clock, providers
from billing_portal.common import events as domain_events
from billing_portal.common.exceptions import ApplicationError, Conflict, NotFound
from billing_portal.common.queue import enqueue_on_commit

from . import event_store, partitions
from .models import (
    AuthEvent,
    AuthEventKey,
    DailyActiveCounter,
    DailyActiveFirstSeen,
    MauAlert,
    MauAlertSetting,
    MauCounter,
    MauFirstSeen,
    MauRpFirstSeen,
    MeteringUnit,
    MeterReading,
)

MAX_EVENTS_PER_REQUEST = 10_000
MAX_FUTURE = timedelta(minutes=5)
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)  # no earlier event is real, and year 1 − 9 h is not a Python date
MAX_ERRORS_REPORTED = 1000

# --- authentication events → exact MAU ---------------------------------------------------------------------


def _parse_instant(value):
    if not isinstance(value, str) or not value:
        return None
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        return None
    if instant.tzinfo is None:
        return None
    return instant


def _columns_if_all_valid(events, known_rps, latest_allowed):
    """The hot path: the columns when every event is a well-formed object with string fields, else None (then
    auth_events_validate's full pass decides, and names each problem). Accepts exactly what that pass accepts
    with the same result; it only skips building an error list that would be empty."""
    ids, rps, users, instants = [], [], [], []
    seen = set()
    parse = datetime.fromisoformat
    try:
        for event in events:
            event_id, rp, user_id = event["id"], event["rp"], event["user_id"]
            instant = parse(event["occurred_at"])
            if (
                type(event_id) is not str
                or not 0 < len(event_id) <= 200
                or type(rp) is not str
                or rp not in known_rps
                or type(user_id) is not str
                or not 0 < len(user_id) <= 255
                or instant.tzinfo is None
                or instant > latest_allowed
                or instant < EARLIEST
            ):
                return None
            if event_id in seen:
                continue
            seen.add(event_id)
            ids.append(event_id)
            rps.append(rp)
            users.append(user_id)
            instants.append(instant)
    except (KeyError, TypeError, ValueError):
        return None
    return ids, rps, users, instants


def auth_events_validate(*, tenant, events) -> tuple[list, list, list, list]:
    """Check every event; raise ApplicationError (400) listing each bad event, or return the columns.

    An id repeated within the batch keeps its first event only.
    """
    if not isinstance(events, list):
        raise ApplicationError(_("'events' must be a list of events."), code="invalid_events")
    if len(events) > MAX_EVENTS_PER_REQUEST:
        raise ApplicationError(
            _("At most %(max)s events per request; this one has %(count)s.")
            % {"max": f"{MAX_EVENTS_PER_REQUEST:,}", "count": f"{len(events):,}"},
            code="too_many_events",
        )
    known_rps = set(RelyingParty.objects.filter(tenant=tenant).values_list("rp_id", flat=True))
    latest_allowed = clock.now() + MAX_FUTURE
    columns = _columns_if_all_valid(events, known_rps, latest_allowed)
    if columns is not None:
        return columns
    ids, rps, users, instants = [], [], [], []
    seen = set()
    errors = []

    def bad(index, event_id, field, message):
        errors.append({"index": index, "id": event_id, "field": field, "message": message})

    for index, event in enumerate(events):
        if not isinstance(event, dict):
            bad(index, None, None, _("An event must be a JSON object."))
            continue
        event_id = event.get("id")
        if isinstance(event_id, int) and not isinstance(event_id, bool):
            event_id = str(event_id)
        ok = True
        if not isinstance(event_id, str) or not event_id or len(event_id) > 200:
            bad(
                index,
                event.get("id"),
                "id",
                _("Missing or invalid event id (a string of 1 to 200 characters)."),
            )
            ok = False
        rp = event.get("rp")
        if not isinstance(rp, str) or rp not in known_rps:
            bad(index, event_id, "rp", _("Unknown RP '%(rp)s': register it first.") % {"rp": rp})
            ok = False
        user_id = event.get("user_id")
        if not isinstance(user_id, str) or not user_id or len(user_id) > 255:
            bad(index, event_id, "user_id", _("Missing user_id (a string of 1 to 255 characters)."))
            ok = False
        instant = _parse_instant(event.get("occurred_at"))
        if instant is None:
            bad(
                index,
                event_id,
                "occurred_at",
                _("Bad timestamp: use ISO 8601 with a time zone, e.g. 2026-11-01T09:30:00Z."),
            )
            ok = False
        elif instant > latest_allowed:
            bad(index, event_id, "occurred_at", _("The timestamp is more than 5 minutes in the future."))
            ok = False
        elif instant < EARLIEST:
            bad(index, event_id, "occurred_at", "The timestamp is before 1970.")
            ok = False
        if ok and event_id in seen:
            continue  # repeated in the batch: the first one counts, the others are duplicates
        if ok:
            seen.add(event_id)
            ids.append(event_id)
            rps.append(rp)
            users.append(user_id)
            instants.append(instant)
    if errors:
        raise ApplicationError(
            ngettext(
                "%(count)s problem in %(events)s events; nothing was stored.",
                "%(count)s problems in %(events)s events; nothing was stored.",
                len(errors),
            )
            % {"count": len(errors), "events": len(events)},
            code="invalid_events",
            extra={"errors": errors[:MAX_ERRORS_REPORTED], "error_count": len(errors)},
        )
    return ids, rps, users, instants


def _ingest_sql() -> str:
    t = {
        m.__name__: m._meta.db_table
        for m in (
            AuthEvent,
            AuthEventKey,
            MauFirstSeen,
            MauRpFirstSeen,
            MauCounter,
            DailyActiveFirstSeen,
            DailyActiveCounter,
        )
    }
    # The four columns arrive as JSON arrays (one text parameter each, serialised by orjson): psycopg's client-side
    # binding would otherwise spell out text[] literals in Python, element by element — the largest cost of a
    # request in the profile (README, "make bench"). Instants are RFC 3339 with their offset, so exact.
    # Idempotency: the events table is partitioned by month (metering/partitions.py) and cannot hold a unique
    # (tenant, event_id), so `keys` claims the ids in metering_autheventkey and only the claimed ones are stored.
    # MauFirstSeen keeps the user's earliest event of the month (time, then RP) — the MAU evidence: an earlier
    # event arriving late moves it; `xmax = 0` tells the rows inserted (a new user) from the ones moved.
    # One statement. Every INSERT reads a sorted input, so concurrent requests take their row locks in the same
    # order (table by table, key by key) and cannot deadlock; ON CONFLICT DO NOTHING RETURNING yields only the
    # rows this request created, so counters grow by exactly the number of new first-seen rows.
    return f"""
WITH input AS (
    SELECT e COLLATE "C" AS e, r COLLATE "C" AS r, u COLLATE "C" AS u, o::timestamptz AS o FROM ROWS FROM (
        json_array_elements_text(%(ids)s::json), json_array_elements_text(%(rps)s::json),
        json_array_elements_text(%(users)s::json), json_array_elements_text(%(instants)s::json)
    ) AS x(e, r, u, o)
), keys AS (
    INSERT INTO {t["AuthEventKey"]} (tenant_id, event_id, occurred_at)
    SELECT %(tenant)s, e, o FROM input ORDER BY e
    ON CONFLICT (tenant_id, event_id) DO NOTHING
    RETURNING event_id
), new_events AS (
    INSERT INTO {t["AuthEvent"]} (tenant_id, event_id, rp_id, user_id, occurred_at, month)
    SELECT %(tenant)s, i.e, i.r, i.u, i.o, date_trunc('month', i.o AT TIME ZONE %(tz)s)::date
      FROM input i JOIN keys k ON k.event_id = i.e
    RETURNING rp_id, user_id, occurred_at, month, (occurred_at AT TIME ZONE %(tz)s)::date AS day
), new_users AS (
    INSERT INTO {t["MauFirstSeen"]} AS f (tenant_id, month, user_id, first_at, rp_id)
    SELECT DISTINCT ON (month, user_id) %(tenant)s, month, user_id, occurred_at, rp_id FROM new_events
     ORDER BY month, user_id, occurred_at, rp_id
    ON CONFLICT (tenant_id, month, user_id) DO UPDATE SET first_at = EXCLUDED.first_at, rp_id = EXCLUDED.rp_id
     WHERE (EXCLUDED.first_at, EXCLUDED.rp_id) < (f.first_at, f.rp_id)
    RETURNING month, xmax = 0 AS inserted
), new_rp_users AS (
    INSERT INTO {t["MauRpFirstSeen"]} (tenant_id, rp_id, month, user_id)
    SELECT DISTINCT %(tenant)s, rp_id, month, user_id FROM new_events ORDER BY 2, 3, 4
    ON CONFLICT (tenant_id, rp_id, month, user_id) DO NOTHING
    RETURNING rp_id, month
), new_day_users AS (
    INSERT INTO {t["DailyActiveFirstSeen"]} (tenant_id, day, user_id)
    SELECT DISTINCT %(tenant)s, day, user_id FROM new_events ORDER BY 2, 3
    ON CONFLICT (tenant_id, day, user_id) DO NOTHING
    RETURNING day
), day_bumped AS (
    INSERT INTO {t["DailyActiveCounter"]} (tenant_id, day, dau)
    SELECT %(tenant)s, day, count(*) FROM new_day_users GROUP BY day ORDER BY day
    ON CONFLICT (tenant_id, day) DO UPDATE SET dau = {t["DailyActiveCounter"]}.dau + EXCLUDED.dau
    RETURNING day
), deltas AS (
    SELECT month, rp_id, sum(mau) AS mau, sum(events) AS events FROM (
        SELECT month, '' AS rp_id, count(*) AS mau, 0 AS events FROM new_users WHERE inserted GROUP BY month
        UNION ALL
        SELECT month, '', 0, count(*) FROM new_events GROUP BY month
        UNION ALL
        SELECT month, rp_id, count(*), 0 FROM new_rp_users GROUP BY month, rp_id
        UNION ALL
        SELECT month, rp_id, 0, count(*) FROM new_events GROUP BY month, rp_id
    ) d GROUP BY month, rp_id
), bumped AS (
    INSERT INTO {t["MauCounter"]} (tenant_id, month, rp_id, mau, events)
    SELECT %(tenant)s, month, rp_id, mau, events FROM deltas ORDER BY month, rp_id
    ON CONFLICT (tenant_id, month, rp_id)
    DO UPDATE SET mau = {t["MauCounter"]}.mau + EXCLUDED.mau, events = {t["MauCounter"]}.events + EXCLUDED.events
    RETURNING month, rp_id, mau
)
SELECT (SELECT count(*) FROM new_events),
       (SELECT coalesce(json_agg(json_build_array(m.month, m.n)), '[]'::json)
          FROM (SELECT month, count(*) AS n FROM new_events GROUP BY month) m),
       (SELECT coalesce(json_agg(json_build_array(b.month, b.mau)), '[]'::json)
          FROM bumped b JOIN deltas d ON d.month = b.month AND d.rp_id = b.rp_id
         WHERE b.rp_id = '' AND d.mau > 0)
"""  # noqa: S608 - table names come from model meta, values are parameters


_INGEST_SQL = None


def auth_events_ingest(*, tenant, events) -> dict:
    """Store a batch of authentication events, all or nothing, and keep MAU exact.

    Returns {"accepted": new events, "duplicates": events already stored (or repeated in the batch),
    "late": accepted events of months already invoiced, "late_months": those months} — late events are counted
    in their month and billed as an adjustment on the next invoice (payments/invoicing/late_usage.py).
    With the ClickHouse event store the batch is queued for shipping (metering/event_outbox.py): "duplicates"
    then counts only the ids repeated within the request; repeats of earlier requests collapse in ClickHouse.
    """
    ids, rps, users, instants = auth_events_validate(tenant=tenant, events=events)
    if not ids:
        return {"accepted": 0, "duplicates": len(events), "late": 0, "late_months": []}
    accepted, by_month, _grown = event_store.current().record_auth_events(
        tenant=tenant, ids=ids, rps=rps, users=users, instants=instants
    )
    current = datetime(*clock.month_of(clock.now(), tenant.time_zone), 1).date()  # noqa: DTZ001 - a calendar month
    earlier = {
        datetime.fromisoformat(m).date(): n for m, n in by_month if datetime.fromisoformat(m).date() < current
    }
    return {
        "accepted": accepted,
        "duplicates": len(events) - accepted,
        **providers.get("late_events_report")(tenant=tenant, accepted_by_month=earlier),
    }


def auth_events_store_postgres(*, tenant, ids, rps, users, instants) -> tuple[int, list, list]:
    """The PostgreSQL event store's write: one statement inserts the events and first-seen rows and bumps the
    counters, in the request's transaction (the MAU alert is checked there too).
    Returns (accepted, [(month, accepted events)], [(month, MAU)] of months whose MAU grew)."""
    global _INGEST_SQL
    if _INGEST_SQL is None:
        _INGEST_SQL = _ingest_sql()
    params = {
        "ids": orjson.dumps(ids).decode(),
        "rps": orjson.dumps(rps).decode(),
        "users": orjson.dumps(users).decode(),
        "instants": orjson.dumps(instants).decode(),
        "tenant": tenant.pk,
        "tz": tenant.time_zone,
    }
    for attempt in (1, 2):
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute(_INGEST_SQL, params)
                    accepted, by_month, grown = cursor.fetchone()
                if grown:
                    _mau_alert_check(tenant=tenant, grown=grown)
        except IntegrityError as exc:
            # An event of a month without an events partition (years old, or a test clock far ahead): create the
            # batch's months and retry once (metering/partitions.py). The failed attempt changed nothing.
            if attempt == 2 or not partitions.is_missing_partition(exc):
                raise
            partitions.partitions_for_instants(instants)
        else:
            return accepted, by_month, grown
    raise AssertionError("unreachable")


# --- MAU alert ---------------------------------------------------------------------------------------------


def _mau_alert_check(*, tenant, grown) -> None:
    """After MAU grew: raise this month's alert once when the MAU has reached the threshold."""
    setting = MauAlertSetting.objects.filter(tenant=tenant).first()
    if setting is None or not setting.notify_representative or not setting.threshold:
        return
    year, month = clock.month_of(clock.now(), tenant.time_zone)
    current = f"{year:04d}-{month:02d}-01"
    for month_start, mau in grown:
        if month_start == current and mau >= setting.threshold:
            mau_alert_raise(tenant=tenant, year=year, month=month, mau=mau, threshold=setting.threshold)


def mau_alert_raise(*, tenant, year: int, month: int, mau: int, threshold: int) -> MauAlert | None:
    """Record the month's alert (unique per tenant-month) and e-mail the representative after commit.

    Returns the new alert, or None when this month's alert already exists.
    """
    from .tasks import mau_alert_notify_task

    try:
        with transaction.atomic():
            alert = MauAlert.objects.create(
                tenant=tenant,
                month=datetime(year, month, 1).date(),  # noqa: DTZ001
                threshold=threshold,
                mau_at_alert=mau,
            )
    except IntegrityError:
        return None
    enqueue_on_commit(mau_alert_notify_task, alert.pk)
    domain_events.publish(
        "mau.threshold_reached",
        tenant=tenant,
        data={"month": f"{year:04d}-{month:02d}", "mau": mau, "threshold": threshold},
    )
    return alert


def mau_alert_notify(*, alert_id: int) -> MauAlert:
    """Send the month's MAU exceeded e-mail to the representative, once."""
    from billing_portal.common.notify import send_templated_mail

    with transaction.atomic():
        alert = (
            MauAlert.objects.select_for_update(of=("self",))
            .select_related("tenant__representative")
            .get(pk=alert_id)
        )
        if alert.notified_at is not None:
            return alert
        representative = alert.tenant.representative
        if representative is None or not representative.email:
            return alert
        context = {"alert": alert, "tenant": alert.tenant, "representative": representative}
        send_templated_mail(
            name="mau_alert", to=[representative.email], context=context, time_zone=alert.tenant.time_zone
        )
        alert.notified_to = representative.email
        alert.notified_at = clock.now()
        alert.save(update_fields=["notified_to", "notified_at"])
    return alert


def mau_alert_setting_update(
    *, tenant, notify_representative: bool, threshold: int | None
) -> MauAlertSetting:
    if notify_representative and not threshold:
        raise ApplicationError(_("Enter a MAU threshold to be notified about."), code="threshold_required")
    if threshold is not None and threshold < 1:
        raise ApplicationError(_("The MAU threshold must be at least 1."), code="bad_threshold")
    with transaction.atomic():
        setting, _created = MauAlertSetting.objects.select_for_update().get_or_create(tenant=tenant)
        setting.notify_representative = notify_representative
        setting.threshold = threshold
        setting.save()
        if notify_representative:
            from .selectors import mau_count

            year, month = clock.month_of(clock.now(), tenant.time_zone)
            mau = mau_count(tenant=tenant, year=year, month=month)
            if mau >= threshold:
                mau_alert_raise(tenant=tenant, year=year, month=month, mau=mau, threshold=threshold)
    return setting


# --- meter readings (SaaSus-style metering units) -----------------------------------------------------------


def metering_unit_get(*, unit_name: str) -> MeteringUnit:
    unit = MeteringUnit.objects.filter(unit_name=unit_name).first()
    if unit is None:
        raise NotFound(_("No metering unit '%(unit)s'.") % {"unit": unit_name})
    return unit


def instant_from_unix(value) -> datetime:
    try:
        seconds = int(value)
        return datetime.fromtimestamp(seconds, tz=clock.now().tzinfo)
    except (TypeError, ValueError, OverflowError, OSError):
        raise ApplicationError(
            _("Bad timestamp '%(value)s': use Unix seconds.") % {"value": value}, code="bad_timestamp"
        ) from None


METHODS = ("add", "sub", "direct")


def meter_reading_put(
    *, tenant, unit_name: str, timestamp: datetime, method: str, count, rp_id: str = ""
) -> MeterReading:
    """Add to, subtract from or set the unit's count at a timestamp (race-free upsert)."""
    unit = metering_unit_get(unit_name=unit_name)
    if method not in METHODS:
        raise ApplicationError(
            _("'method' must be one of %(methods)s.") % {"methods": ", ".join(METHODS)}, code="bad_method"
        )
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ApplicationError(_("'count' must be a whole number ≥ 0."), code="bad_count")
    if rp_id and not RelyingParty.objects.filter(tenant=tenant, rp_id=rp_id).exists():
        raise ApplicationError(
            _("Unknown RP '%(rp)s': register it first.") % {"rp": rp_id}, code="unknown_rp"
        )
    table = MeterReading._meta.db_table
    params = {
        "tenant": tenant.pk,
        "unit": unit.pk,
        "rp": rp_id,
        "ts": timestamp,
        "count": count,
        "now": clock.now(),
    }
    if method == "sub":
        # Only an existing count can go down; a CHECK constraint keeps it from going below zero.
        sql = f"""
            UPDATE {table} SET count = count - %(count)s, updated_at = %(now)s
            WHERE tenant_id = %(tenant)s AND unit_id = %(unit)s AND rp_id = %(rp)s AND timestamp = %(ts)s
            RETURNING id, count"""  # noqa: S608 - table name from model meta, values are parameters
    else:
        update = f"{table}.count + EXCLUDED.count" if method == "add" else "EXCLUDED.count"
        sql = f"""
            INSERT INTO {table} (tenant_id, unit_id, rp_id, timestamp, count, updated_at)
            VALUES (%(tenant)s, %(unit)s, %(rp)s, %(ts)s, %(count)s, %(now)s)
            ON CONFLICT (tenant_id, unit_id, rp_id, timestamp)
            DO UPDATE SET count = {update}, updated_at = EXCLUDED.updated_at
            RETURNING id, count"""  # noqa: S608 - table name from model meta, values are parameters
    negative = Conflict(
        _("Subtracting %(count)s would take %(unit)s below zero at that timestamp.")
        % {"count": count, "unit": unit.unit_name},
        code="negative_count",
    )
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
            if row is not None and event_store.current().uses_outbox:
                from .event_outbox import meter_reading_enqueue

                meter_reading_enqueue(
                    tenant=tenant, unit_id=unit.pk, rp_id=rp_id, timestamp=timestamp, count=row[1]
                )
    except IntegrityError:
        raise negative from None
    except DataError:  # bigint out of range: an add past 2^63 - 1
        raise Conflict(
            f"Adding {count} would take {unit.unit_name} past the largest count (2^63 - 1) at that "
            "timestamp.",
            code="count_out_of_range",
        ) from None
    if row is None:
        if count:
            raise negative
        return meter_reading_put(
            tenant=tenant, unit_name=unit_name, timestamp=timestamp, method="add", count=0, rp_id=rp_id
        )
    pk = row[0]
    return MeterReading.objects.select_related("unit").get(pk=pk)


def meter_reading_delete(*, tenant, unit_name: str, timestamp: datetime, rp_id: str = "") -> int:
    unit = metering_unit_get(unit_name=unit_name)
    with transaction.atomic():
        deleted, _per_model = MeterReading.objects.filter(
            tenant=tenant, unit=unit, rp_id=rp_id, timestamp=timestamp
        ).delete()
        if deleted and event_store.current().uses_outbox:
            from .event_outbox import meter_reading_enqueue

            meter_reading_enqueue(
                tenant=tenant, unit_id=unit.pk, rp_id=rp_id, timestamp=timestamp, count=0, deleted=True
            )
    if not deleted:
        raise NotFound(_("No %(unit)s count at that timestamp.") % {"unit": unit.unit_name})
    return deleted


def metering_data_delete(*, tenant) -> dict:
    """Unsubscribing: every metering row of the tenant goes (events, first-seen tables, readings, alerts), and
    with the ClickHouse event store its rows there too (queued in this transaction). Returns the number deleted per
    model."""
    counts = {}
    for model in apps.get_app_config("metering").get_models():
        if any(f.name == "tenant" for f in model._meta.fields):
            counts[model._meta.model_name] = model.objects.filter(tenant=tenant).delete()[0]
    if event_store.current().uses_outbox:
        from .event_outbox import tenant_forget_enqueue

        tenant_forget_enqueue(tenant_id=tenant.pk)
    return counts
