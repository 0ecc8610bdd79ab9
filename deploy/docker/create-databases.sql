-- Each service owns its database (DESIGN.md §1).
CREATE DATABASE capaflow_capa;
CREATE DATABASE capaflow_notifications;
-- The web UI's sign-in sessions (docs/ui.md).
CREATE DATABASE capaflow_web;
