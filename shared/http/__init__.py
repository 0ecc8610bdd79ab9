"""HTTP helpers shared by the services: problem+json errors, health endpoints."""
