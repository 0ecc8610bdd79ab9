"""The event contract: CloudEvents envelope and the catalog of event types."""
