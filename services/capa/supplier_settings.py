"""Settings of the supplier part of the CAPA service (CAPA_ prefix, mixed into
CapaSettings): the SMTP server that sends SCAR links, where the links point,
how long they live and how fast they may be used."""

from pydantic import BaseModel, Field, SecretStr

from shared.mail import SmtpSettings


class SupplierSettings(BaseModel):
    # The mail server that sends a SCAR's response link to the supplier's contact.
    # Unset: SCARs are recorded but no link goes out (the response says so) until
    # one is configured and the link is sent again (POST /v1/scars/{id}/link).
    smtp_host: str | None = None
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_start_tls: bool = False
    mail_from: str = "CAPAflow quality <capaflow@localhost>"
    # The web UI's public address: the link is <this>/supplier-response/<token>.
    ui_base_url: str = Field(default="http://127.0.0.1:8000", pattern=r"^https?://[^\s]+$")
    # A link works this many days from sending (and at least a week past the due date).
    scar_link_days: int = Field(default=60, ge=1, le=366)
    # Requests one link may make per minute, and requests with links that open
    # nothing (unknown, expired, revoked) one caller may make per minute (429 beyond).
    scar_link_requests_per_minute: int = Field(default=60, ge=1, le=10_000)
    scar_unknown_link_requests_per_minute: int = Field(default=20, ge=1, le=10_000)

    def smtp(self) -> SmtpSettings | None:
        if not self.smtp_host:
            return None
        return SmtpSettings(host=self.smtp_host, port=self.smtp_port, sender=self.mail_from,
                            username=self.smtp_username,
                            password=(self.smtp_password.get_secret_value()
                                      if self.smtp_password else None),
                            start_tls=self.smtp_start_tls)
