"""CAPAflow web UI: server-rendered pages over the three services' public APIs."""
