"""Outgoing mail: `queue_mail` in a service, `send_mail` as the job."""
