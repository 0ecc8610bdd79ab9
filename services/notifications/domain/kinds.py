"""The notification kinds every layer names: channels, delivery modes and statuses.

Their values are published vocabulary (the web UI offers them, clients send
them), so they are defined once in shared.vocabulary and named here for the
notifications domain.
"""

from shared.vocabulary import Channel, DeliveryMode, DeliveryStatus

__all__ = ["Channel", "DeliveryMode", "DeliveryStatus"]
