"""Signals of accounts, for the apps that depend on it (accounts imports none of them)."""

from django.dispatch import Signal

# Sent with `tenant` in the transaction that closes a tenant (unsubscribe): apps forget what they keep elsewhere
# (metering: the tenant's rows in the ClickHouse event store).
tenant_closed = Signal()
