"""App factories for the bench: the real services, each in a consumer group of its own.

The nonconformity and notifications services hard-code their consumer group
names ("nonconformity", "notifications"); on the shared Kafka of
`deploy/infra.sh` a bench process in those groups would take partitions
away from other engineers' running services. These factories rename the
group (``BENCH_GROUP_<SERVICE>``) before building the unchanged app; the
CAPA service reads ``CAPA_CONSUMER_GROUP`` itself.

``uvicorn bench.launch:nonconformity --factory``
"""

import os

from fastapi import FastAPI


def _rename_groups(subscriptions: list, variable: str) -> None:  # type: ignore[type-arg]
    group = os.environ.get(variable)
    if group:
        for sub in subscriptions:
            sub.group = group


def nonconformity() -> FastAPI:
    from services.nonconformity import app, service

    _rename_groups(service.SUBSCRIPTIONS, "BENCH_GROUP_NONCONFORMITY")
    return app.create_app()


def capa() -> FastAPI:
    from services.capa import app

    return app.create_app()


def notifications() -> FastAPI:
    from services.notifications import app

    # Like the CAPA service, it reads its group from NOTIFICATIONS_CONSUMER_GROUP.
    group = os.environ.get("BENCH_GROUP_NOTIFICATIONS")
    if group:
        os.environ["NOTIFICATIONS_CONSUMER_GROUP"] = group
    return app.create_app()
