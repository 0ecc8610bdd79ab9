"""Notification rules. Pure Python: no framework, database or bus imports."""

from enum import StrEnum


class Channel(StrEnum):
    webhook = "webhook"
    email = "email"
    slack = "slack"


class DeliveryMode(StrEnum):
    immediate = "immediate"
    daily = "daily"
    weekly = "weekly"
