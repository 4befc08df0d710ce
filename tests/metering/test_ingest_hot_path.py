"""What the ingest hot path relies on (issue 17, "Exact ingest on one PostgreSQL"): byte-order comparison of the
ingest keys and the worker importing its views at boot rather than in its first request. (Values passing exactly
through the JSON-array parameters: test_mau_exact.py, whose generated events include quotes, backslashes,
non-ASCII user ids, offsets and microseconds.)"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.mark.django_db
def test_ingest_keys_compare_byte_by_byte():
    """Every B-tree the ingest probes per event compares its text keys with memcmp ("C"), not the locale."""
    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT c.relname, a.attname, coll.collname
            FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_collation coll ON coll.oid = a.attcollation
            WHERE c.relname IN ('metering_authevent', 'metering_autheventkey', 'metering_maufirstseen',
                                'metering_maurpfirstseen', 'metering_dailyactivefirstseen')
              AND a.attname IN ('event_id', 'rp_id', 'user_id')
            ORDER BY 1, 2
        """)
        columns = cursor.fetchall()
    assert columns == [
        ("metering_authevent", "event_id", "C"),
        ("metering_authevent", "rp_id", "C"),
        ("metering_authevent", "user_id", "C"),
        ("metering_autheventkey", "event_id", "C"),
        ("metering_dailyactivefirstseen", "user_id", "C"),
        ("metering_maufirstseen", "rp_id", "C"),
        ("metering_maufirstseen", "user_id", "C"),
        ("metering_maurpfirstseen", "rp_id", "C"),
        ("metering_maurpfirstseen", "user_id", "C"),
    ]


def test_a_worker_imports_every_view_when_it_boots():
    """gunicorn loads billing_portal.wsgi in each worker (or once with --preload): the URLconf and the views it
    names, WeasyPrint included, are imported then — not inside the first request, which would wait for it."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "billing_portal.settings.test"}
    probe = "import sys, billing_portal.wsgi; print('payments.invoicing.receipts' in sys.modules, 'metering.api_views' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True"]
