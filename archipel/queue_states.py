"""The states of the island's queues, each declared once (archipel/jobs.py says what they mean for
claiming and retention). Plain strings in the tables, so that operators can read them in SQL."""


class IncomingStates:
    RECEIVED = "received"
    PROCESSED = "processed"
    IGNORED = "ignored"
    FAILED = "failed"


class DeliveryStates:
    PENDING = "pending"
    IN_FLIGHT = "in_flight"
    SENT = "sent"
    GAVE_UP = "gave_up"


class MailStates:
    PENDING = "pending"
    SENT = "sent"
    GAVE_UP = "gave_up"
