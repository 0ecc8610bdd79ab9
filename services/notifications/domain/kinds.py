"""The notification kinds every layer names: channels, delivery modes and statuses.

The API schemas, the models and the web UI's forms all take their values from here.
"""

from enum import StrEnum


class Channel(StrEnum):
    webhook = "webhook"
    email = "email"
    slack = "slack"


class DeliveryMode(StrEnum):
    immediate = "immediate"
    daily = "daily"
    weekly = "weekly"


class DeliveryStatus(StrEnum):
    pending = "pending"
    delivered = "delivered"
    dead_lettered = "dead_lettered"
