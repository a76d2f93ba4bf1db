"""The island's tables.

Local and remote objects share one table (`objects`): a fiche received from another island is
stored, shown and counted exactly like one written here, `is_local` tells them apart.
Queues are tables with declared states (incoming activities, deliveries) so that a crash or a
restart loses nothing that was accepted.
"""

from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import urlsplit

from archipel.queue_states import DeliveryStates, IncomingStates, MailStates
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes on every backend (SQLite stores no time zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


class Base(DeclarativeBase):
    pass


class LocalActor(Base):
    """An actor hosted here: the island (Group), a person (Person), later a theme."""

    __tablename__ = "local_actors"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # island | person | theme
    display_name: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text, default="")
    private_key_pem: Mapped[str] = mapped_column(Text)
    public_key_pem: Mapped[str] = mapped_column(Text)
    manually_approves_followers: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A theme actor shares every item of its theme, matched by this normalised key (themes.py).
    theme_key: Mapped[str | None] = mapped_column(String(100), nullable=True, unique=True)
    # Profile: images as {url, mediaType, name}; links as [{name, url}] (shown as PropertyValue).
    avatar: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    header: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    links: Mapped[list] = mapped_column(JSON, default=list)


class User(Base):
    """Someone who logs in; their public face is a LocalActor."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("local_actors.id"), unique=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(16), default="author")  # admin | moderator | author
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Private: for password resets and invitations only; never shown publicly, federated or exported.
    email: Mapped[str | None] = mapped_column(String(254), nullable=True, unique=True, index=True)
    # A deactivated account cannot log in; its published items stay.
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Invitation(Base):
    """A single-use link that creates an account with a role. Only a hash of its token is stored."""

    __tablename__ = "invitations"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    used_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)


class PasswordReset(Base):
    """A single-use link that sets a new password. Only a hash of its token is stored."""

    __tablename__ = "password_resets"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Draft(Base):
    """What someone was typing in the item form, saved while they write (every few seconds, by
    the editor script) so that nothing is lost and another device finds it; removed when the item
    is saved. One per person and form: `key` is "new-fiche", "new-resource" or the item's ULID."""

    __tablename__ = "drafts"
    __table_args__ = (UniqueConstraint("user_id", "key", name="uq_drafts_user_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(40))
    fields: Mapped[dict] = mapped_column(JSON)  # field name -> list of the values posted
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RemoteActor(Base):
    """What we know of an actor on another server, with its public key."""

    __tablename__ = "remote_actors"
    id: Mapped[int] = mapped_column(primary_key=True)
    uri: Mapped[str] = mapped_column(String(2000), unique=True)
    host: Mapped[str] = mapped_column(String(300), index=True)
    type: Mapped[str] = mapped_column(String(32))
    username: Mapped[str] = mapped_column(String(200), default="")
    display_name: Mapped[str] = mapped_column(String(500), default="")
    inbox: Mapped[str] = mapped_column(String(2000))
    shared_inbox: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    followers_uri: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    url: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    icon_url: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    key_id: Mapped[str | None] = mapped_column(String(2000), nullable=True, index=True)
    public_key_pem: Mapped[str | None] = mapped_column(Text, nullable=True)
    document: Mapped[dict] = mapped_column(JSON)
    # Indexed: the remote pictures' sync reads the actors fetched since its last pass.
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


def origin_host_of(uri: str | None) -> str:
    """The host[:port] an item's id is on, lowercased, as the island's follows name hosts
    (RemoteActor.host): what follows `http://` or `https://` (any case) up to the next `/`;
    "" for an id without that shape (or a host no RemoteActor row could hold)."""
    lowered = (uri or "").lower()
    for scheme in ("http://", "https://"):
        if lowered.startswith(scheme):
            host, slash, _ = lowered[len(scheme):].partition("/")
            return host if slash and len(host) <= ORIGIN_HOST_LENGTH else ""
    return ""


ORIGIN_HOST_LENGTH = 300  # as RemoteActor.host


def _origin_host_default(context) -> str:
    return origin_host_of(context.get_current_parameters().get("uri"))


# ix_objects_map (migration 0014): kind first, as geo.positioned chooses it. Partial on PostgreSQL
# (SQLite, without statistics, would not choose it), so that the long URLs it holds are never more
# than shared_by and origin_host: a PostgreSQL index entry holds at most ~2.7 KB.
MAP_COLUMNS = ("kind", "latitude", "longitude", "state", "deleted_at", "hidden_at", "in_reply_to", "is_local",
               "origin_host", "shared_by", "public", "id")
MAP_WHERE = "deleted_at IS NULL AND hidden_at IS NULL AND in_reply_to IS NULL"


class StoredObject(Base):
    """A published item (article now; fiches and resources extend it), local or remote, or a reply."""

    __tablename__ = "objects"
    id: Mapped[int] = mapped_column(primary_key=True)
    uri: Mapped[str] = mapped_column(String(2000), unique=True)
    # Where the item comes from, written with the row (from `uri`), so that the listings find an
    # island's items by index (content.in_archipelago) instead of comparing every id with every host.
    origin_host: Mapped[str] = mapped_column(String(ORIGIN_HOST_LENGTH), default=_origin_host_default,
                                             server_default="")
    # The island we follow that re-shared it here (a hub), if that is how it joined the archipelago.
    shared_by: Mapped[str | None] = mapped_column(String(2000), nullable=True, index=True)
    is_local: Mapped[bool] = mapped_column(Boolean)
    type: Mapped[str] = mapped_column(String(32))
    author_uri: Mapped[str] = mapped_column(String(2000), index=True)
    local_author_id: Mapped[int | None] = mapped_column(
        ForeignKey("local_actors.id"), nullable=True, index=True
    )
    in_reply_to: Mapped[str | None] = mapped_column(String(2000), nullable=True, index=True)
    name: Mapped[str] = mapped_column(String(500), default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    content: Mapped[str] = mapped_column(Text, default="")  # sanitised HTML
    source: Mapped[str | None] = mapped_column(Text, nullable=True)  # Markdown, local items
    language: Mapped[str] = mapped_column(String(16), default="fr")
    url: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    tags: Mapped[list] = mapped_column(JSON, default=list)
    public: Mapped[bool] = mapped_column(Boolean, default=True)
    extra: Mapped[dict] = mapped_column(JSON, default=dict)
    published: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Indexed: the remote pictures' sync reads the items updated or deleted since its last pass.
    updated: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # ix_objects_listing
    # Fiches and training resources (see archipel/fiches.py); articles and notes leave them empty.
    kind: Mapped[str] = mapped_column(String(16), default="article", index=True)
    state: Mapped[str] = mapped_column(String(16), default="published")
    licence: Mapped[str | None] = mapped_column(String(32), nullable=True)
    based_on: Mapped[str | None] = mapped_column(String(2000), nullable=True, index=True)
    place: Mapped[str] = mapped_column(String(500), default="")
    region: Mapped[str] = mapped_column(String(500), default="")
    latitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    longitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    fields: Mapped[dict] = mapped_column(JSON, default=dict)
    private_fields: Mapped[dict] = mapped_column(JSON, default=dict)  # never federated
    cover: Mapped[dict | None] = mapped_column(JSON, nullable=True)  # {url, name (alt), mediaType}
    # Events (archipel/events.py): their start and end as UTC instants, which the agenda sorts
    # and filters on (the times as written, with their offset, stay in `fields`), and the zone
    # they are read in (an IANA name, or an offset such as +01:00).
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    time_zone: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # A moderator hid it from the island's pages (a reply, typically); it stays stored.
    hidden_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Listings are newest first (content.public_items): walked in this order, they stop at a page.
    # SQLite walks (deleted_at, published, id) from `deleted_at IS NULL`, PostgreSQL the partial
    # index (an IS NULL prefix gives it no order); the first also serves "deleted since".
    __table_args__ = (Index("ix_objects_listing", "deleted_at", "published", "id"),
                      Index("ix_objects_newest", "published", "id", sqlite_where=text("deleted_at IS NULL"),
                            postgresql_where=text("deleted_at IS NULL")),
                      Index("ix_objects_origin", "origin_host", "published", "id"),
                      # The few withdrawn items, which outboxes leave out (by id).
                      Index("ix_objects_withdrawn", "uri", sqlite_where=text("deleted_at IS NOT NULL"),
                            postgresql_where=text("deleted_at IS NOT NULL")),
                      Index("ix_objects_local", "is_local", "published", "id"),
                      # With ix_objects_local, the catalog in the order items last changed (content.catalog_page).
                      Index("ix_objects_local_updated", "is_local", "updated", "id"),
                      # The map reads the items inside a bounding box (archipel/geo.py).
                      Index("ix_objects_position", "latitude", "longitude"),
                      # Every column the map's counts, extent and clusters read (geo.positioned): a
                      # whole country's view reads this narrow index, not the wide rows.
                      Index("ix_objects_map", *MAP_COLUMNS, postgresql_where=text(MAP_WHERE)),
                      # The agenda: events in the order they start, upcoming ones from where they end.
                      Index("ix_objects_starts", "starts_at", "id", sqlite_where=text("starts_at IS NOT NULL"),
                            postgresql_where=text("starts_at IS NOT NULL")),
                      Index("ix_objects_ends", "ends_at", sqlite_where=text("ends_at IS NOT NULL"),
                            postgresql_where=text("ends_at IS NOT NULL")))

    @property
    def pitch(self) -> str | None:
        """A fiche's pitch, as cards show it (listings read it alone: content.CARD_COLUMNS)."""
        pitch = self.fields.get("pitch") if isinstance(self.fields, dict) else None
        return pitch if isinstance(pitch, str) else None


class ItemAuthor(Base):
    """The authors of an item, in order; the first is its `attributedTo`."""

    __tablename__ = "item_authors"
    id: Mapped[int] = mapped_column(primary_key=True)
    object_id: Mapped[int] = mapped_column(ForeignKey("objects.id", ondelete="CASCADE"), index=True)
    actor_uri: Mapped[str] = mapped_column(String(2000), index=True)
    position: Mapped[int] = mapped_column(Integer)
    __table_args__ = (UniqueConstraint("object_id", "actor_uri"),)


class ItemTheme(Base):
    """The themes of an item by their normalised key ('Transition alimentaire' =
    '#TransitionAlimentaire'), so that pages, filters and theme actors can find items by theme."""

    __tablename__ = "item_themes"
    id: Mapped[int] = mapped_column(primary_key=True)
    object_id: Mapped[int] = mapped_column(ForeignKey("objects.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(100), index=True)
    label: Mapped[str] = mapped_column(String(100))
    # A theme's items, and its first label (content.theme_label), from the index alone.
    __table_args__ = (UniqueConstraint("object_id", "key"), Index("ix_item_themes_key_label", "key", "label", "object_id"))


class Revision(Base):
    """A saved state of a published item: who changed it, when, and everything it said."""

    __tablename__ = "revisions"
    id: Mapped[int] = mapped_column(primary_key=True)
    object_id: Mapped[int] = mapped_column(ForeignKey("objects.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    editor_uri: Mapped[str] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    snapshot: Mapped[dict] = mapped_column(JSON)
    __table_args__ = (UniqueConstraint("object_id", "number"),)


class Interaction(Base):
    """A Like or an Announce of one of our objects; an Undo removes the row."""

    __tablename__ = "interactions"
    id: Mapped[int] = mapped_column(primary_key=True)
    activity_uri: Mapped[str] = mapped_column(String(2000), unique=True)
    type: Mapped[str] = mapped_column(String(16))
    actor_uri: Mapped[str] = mapped_column(String(2000))
    object_uri: Mapped[str] = mapped_column(String(2000), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    __table_args__ = (UniqueConstraint("type", "actor_uri", "object_uri"),)


class Follow(Base):
    """One follow relation, in either direction (a local or a remote follower)."""

    __tablename__ = "follows"
    id: Mapped[int] = mapped_column(primary_key=True)
    follower_uri: Mapped[str] = mapped_column(String(2000))
    followed_uri: Mapped[str] = mapped_column(String(2000), index=True)
    activity_uri: Mapped[str] = mapped_column(String(2000))
    state: Mapped[str] = mapped_column(String(16))  # pending | accepted | rejected
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    __table_args__ = (UniqueConstraint("follower_uri", "followed_uri"),)


def actor_host_of(actor_uri: str | None) -> str:
    """host[:port] of an actor URI, lowercased and bounded (as federation.as2.host_of)."""
    try:
        return urlsplit(actor_uri or "").netloc.lower()[:255]
    except ValueError:
        return ""


def _actor_host_default(context) -> str:
    # The server that sent it: the signer's host (a relayed copy counts against who relayed it,
    # so that nobody gets more turns, or fills another server's share, by naming other actors).
    values = context.get_current_parameters()
    return actor_host_of(values.get("signer_uri") or values.get("actor_uri"))


class IncomingActivity(Base):
    """An activity accepted by an inbox: stored raw, processed later by the inbox worker.

    state: received -> processed | ignored | failed
    """

    __tablename__ = "incoming_activities"
    id: Mapped[int] = mapped_column(primary_key=True)
    activity_uri: Mapped[str | None] = mapped_column(String(2000), unique=True, nullable=True)
    activity_type: Mapped[str] = mapped_column(String(32))
    actor_uri: Mapped[str] = mapped_column(String(2000))
    # The sender's server: the inbox worker takes work round-robin by it (fairness).
    actor_host: Mapped[str] = mapped_column(String(255), default=_actor_host_default, server_default="")
    signer_uri: Mapped[str] = mapped_column(String(2000))
    body_trusted: Mapped[bool] = mapped_column(Boolean)
    payload: Mapped[dict] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), default=IncomingStates.RECEIVED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_try_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    __table_args__ = (Index("ix_incoming_state", "state", "id"),
                      Index("ix_incoming_fair", "state", "actor_host", "id"))


class OutgoingActivity(Base):
    """An activity one of our actors sent; its deliveries are rows of `deliveries`."""

    __tablename__ = "outgoing_activities"
    id: Mapped[int] = mapped_column(primary_key=True)
    activity_uri: Mapped[str] = mapped_column(String(2000), unique=True)
    activity_type: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[int] = mapped_column(ForeignKey("local_actors.id"), index=True)
    object_uri: Mapped[str | None] = mapped_column(String(2000), nullable=True, index=True)
    public: Mapped[bool] = mapped_column(Boolean, default=True)
    payload: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # An outbox's size counted from the index alone (web/routes/activitypub.py outbox).
    __table_args__ = (Index("ix_outgoing_outbox", "actor_id", "activity_type", "public", "object_uri"),)


class Delivery(Base):
    """One activity to one inbox. state: pending -> sent | gave_up.

    A row is claimed by pushing `next_try_at` into the future before sending, so after a crash
    only the rows that were in flight come due again.
    """

    __tablename__ = "deliveries"
    id: Mapped[int] = mapped_column(primary_key=True)
    outgoing_id: Mapped[int] = mapped_column(ForeignKey("outgoing_activities.id"))
    inbox_url: Mapped[str] = mapped_column(String(2000))
    host: Mapped[str] = mapped_column(String(300))
    state: Mapped[str] = mapped_column(String(16), default=DeliveryStates.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_try_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    __table_args__ = (
        UniqueConstraint("outgoing_id", "inbox_url"),
        Index("ix_deliveries_due", "state", "next_try_at"),
    )


class HostHealth(Base):
    """Per remote host: a host that keeps failing is paused without holding the others back."""

    __tablename__ = "host_health"
    host: Mapped[str] = mapped_column(String(300), primary_key=True)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    paused_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class LoginSession(Base):
    """A logged-in browser. Only a hash of the cookie's token is stored."""

    __tablename__ = "login_sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Media(Base):
    """An uploaded image or file. Images are re-encoded (metadata such as GPS positions gone)."""

    __tablename__ = "media"
    id: Mapped[str] = mapped_column(String(26), primary_key=True)  # ULID, part of its URL
    owner_id: Mapped[int] = mapped_column(ForeignKey("local_actors.id"), index=True)
    object_id: Mapped[int | None] = mapped_column(ForeignKey("objects.id", ondelete="SET NULL"),
                                                  nullable=True, index=True)
    kind: Mapped[str] = mapped_column(String(16))  # image | file
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    alt: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RemoteImage(Base):
    """A picture another server shows (an actor's avatar, a replicated item's cover), fetched
    once by the island, checked and re-encoded like an upload, and served from here: a visitor's
    browser never asks another server for it. Keyed by the SHA-256 of its URL, which names its
    file and its local URL; a new URL (a changed avatar) is a new row, the old one goes."""

    __tablename__ = "remote_images"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of url, hex
    url: Mapped[str] = mapped_column(String(2000))
    purpose: Mapped[str] = mapped_column(String(16))  # avatar | cover
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending | stored | failed
    content_type: Mapped[str | None] = mapped_column(String(100), nullable=True)
    size: Mapped[int | None] = mapped_column(Integer, nullable=True)
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_try_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CatalogSync(Base):
    """Walking another island's catalog: first everything (backfill), then what changed (catch-up).

    `cursor` is the position after the last item applied, saved after every page, so an
    interrupted walk resumes where it stopped and a later walk sees only newer changes.
    """

    __tablename__ = "catalog_syncs"
    id: Mapped[int] = mapped_column(primary_key=True)
    actor_uri: Mapped[str] = mapped_column(String(2000), unique=True)
    catalog_url: Mapped[str] = mapped_column(String(2000))
    cursor: Mapped[str] = mapped_column(String(100), default="")
    backfilled: Mapped[bool] = mapped_column(Boolean, default=False)
    next_run_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    items_applied: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Share(Base):
    """A local actor's Announce of an item (a theme actor re-sharing the fiches of its theme),
    kept so that it can be undone when the item leaves the theme."""

    __tablename__ = "shares"
    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("local_actors.id", ondelete="CASCADE"), index=True)
    object_uri: Mapped[str] = mapped_column(String(2000), index=True)
    activity_uri: Mapped[str] = mapped_column(String(2000), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    __table_args__ = (UniqueConstraint("actor_id", "object_uri"),)


class Notification(Base):
    """Something a local actor should hear of: a follower, a reply, a like, a boost, a reuse,
    a report. `actor_uri` did it, `object_uri` is what it concerns."""

    __tablename__ = "notifications"
    id: Mapped[int] = mapped_column(primary_key=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("local_actors.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(24))
    actor_uri: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    object_uri: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    __table_args__ = (Index("ix_notifications_recipient", "recipient_id", "id"),)


class Proposal(Base):
    """A fiche (or an improvement to one) proposed by someone without an account, from the public
    form or by mentioning the island from the fediverse. The proposer's e-mail is private and is
    erased once the decision has been sent.

    state: pending -> accepted | refused
    """

    __tablename__ = "proposals"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # the proposer's status link
    kind: Mapped[str] = mapped_column(String(16))  # new | edit
    item_kind: Mapped[str] = mapped_column(String(16), default="fiche")
    target_uri: Mapped[str | None] = mapped_column(String(2000), nullable=True)  # edit: the item
    origin: Mapped[str] = mapped_column(String(16))  # form | mention
    activity_uri: Mapped[str | None] = mapped_column(String(2000), nullable=True, unique=True)
    # mention: the proposer's post, which the island's answers reply to (threaded under it)
    post_uri: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    proposer_name: Mapped[str] = mapped_column(String(200), default="")
    proposer_email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    proposer_actor_uri: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    fields: Mapped[dict] = mapped_column(JSON, default=dict)  # what was proposed
    state: Mapped[str] = mapped_column(String(16), default="pending")
    reason: Mapped[str] = mapped_column(Text, default="")
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("local_actors.id"), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    published_uri: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    __table_args__ = (Index("ix_proposals_state", "state", "id"),)


class Report(Base):
    """A report about content or an account: received as a Flag from another server, or made here
    (and then sent as a Flag from the island). state: open -> resolved"""

    __tablename__ = "reports"
    id: Mapped[int] = mapped_column(primary_key=True)
    direction: Mapped[str] = mapped_column(String(16))  # received | sent
    activity_uri: Mapped[str | None] = mapped_column(String(2000), nullable=True, unique=True)
    reporter_uri: Mapped[str] = mapped_column(String(2000))
    target_actor_uri: Mapped[str | None] = mapped_column(String(2000), nullable=True, index=True)
    object_uris: Mapped[list] = mapped_column(JSON, default=list)
    content: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(16), default="open")
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("local_actors.id"), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    __table_args__ = (Index("ix_reports_state", "state", "id"),)


class Block(Base):
    """A remote account or a whole domain that the island blocks (nothing in, nothing out, their
    replies removed) or silences (kept, hidden from public pages)."""

    __tablename__ = "blocks"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # account | domain
    target: Mapped[str] = mapped_column(String(2000))  # actor URI, or host
    severity: Mapped[str] = mapped_column(String(16))  # block | silence
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("local_actors.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    __table_args__ = (UniqueConstraint("kind", "target"),)


class ModerationEntry(Base):
    """The audit log: every moderation decision, who made it, on what, and why."""

    __tablename__ = "moderation_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    moderator_id: Mapped[int | None] = mapped_column(ForeignKey("local_actors.id"), nullable=True)
    action: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(2000))
    reason: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class OutgoingMail(Base):
    """An e-mail to send (a proposer told of the decision): queued in the transaction that decided,
    sent by a worker, the address erased once sent. state: pending -> sent | gave_up"""

    __tablename__ = "outgoing_mail"
    id: Mapped[int] = mapped_column(primary_key=True)
    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default=MailStates.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_try_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Set while a worker holds the message (archipel/mail.py): the one process of a SQLite island
    # gives back, when it starts, what its killed predecessor held, instead of waiting for the lease.
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # A letter's extra headers (List-Unsubscribe…) and HTML part; erased with the address once sent.
    headers: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    html: Mapped[str | None] = mapped_column(Text, nullable=True)
    __table_args__ = (Index("ix_outgoing_mail_due", "state", "next_try_at"),)


class SearchDocument(Base):
    """What search filters and counts an item by (its facets), one row per item that listings may
    show (archipel/search_index.py keeps it in step with the item). Its words are in the
    full-text table `search_text`, which each database builds its own way (SQLite FTS5 virtual
    table, PostgreSQL tsvector with a GIN index and a copy of these facets: see migrations 0013 and
    0022) and so is not declared here."""

    __tablename__ = "search_documents"
    object_id: Mapped[int] = mapped_column(ForeignKey("objects.id", ondelete="CASCADE"), primary_key=True)
    island: Mapped[str] = mapped_column(String(255), index=True)  # the host the item comes from
    # Which items the island shows (content.in_archipelago), without reading the items: its own,
    # and those whose island, or the island that re-shared them here (`via`), it follows.
    local: Mapped[bool] = mapped_column(Boolean)
    via: Mapped[str] = mapped_column(String(255), default="")
    kind: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(16))
    licence: Mapped[str] = mapped_column(String(32), default="")
    region: Mapped[str] = mapped_column(String(200), default="")
    place: Mapped[str] = mapped_column(String(200), default="")
    audience: Mapped[str] = mapped_column(String(200), default="")
    started_year: Mapped[int | None] = mapped_column(Integer, nullable=True)
    published: Mapped[datetime] = mapped_column(UTCDateTime)
    themes: Mapped[str] = mapped_column(Text, default="")  # theme keys, space-separated
    # The item's position, so that the map's kept cells (archipel/map_cells.py) know where a
    # changed item was (migration 0020).
    latitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    longitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    # Newest first when no words rank the results: the first page reads 20 rows of this index.
    __table_args__ = (Index("ix_search_documents_published", "published", "object_id"),)


class SearchFacetTotal(Base):
    """How many indexed items have each facet value, per origin (island, local, re-sharing
    island): the counts of a search with no words and no choice, summed over the islands shown,
    without reading every item. Written by archipel/search_totals.py in the transaction that
    changes search_documents, as rows of +n / -n that reads sum: no row is ever updated, so no
    two transactions wait on (or deadlock over) a shared count. Compacted now and then."""

    __tablename__ = "search_facet_totals"
    id: Mapped[int] = mapped_column(primary_key=True)
    island: Mapped[str] = mapped_column(String(255))
    local: Mapped[bool] = mapped_column(Boolean)
    via: Mapped[str] = mapped_column(String(255))
    facet: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(200))
    label: Mapped[str] = mapped_column(String(200), default="")
    count: Mapped[int] = mapped_column(Integer)
    # The counts of one facet (the themes of the home page, /federated, /carte) read from this
    # index alone, in value order, instead of every facet's rows.
    __table_args__ = (Index("ix_search_facet_totals_facet", "facet", "value", "label", "island", "local", "via",
                            "count"),
                      # The rows of a few origins (those the island does not show), without the others'.
                      Index("ix_search_facet_totals_origin", "island", "local", "via", "facet", "value", "count"))


class SearchValueTotal(Base):
    """How many indexed items have each facet value, whatever their origin: search_facet_totals
    summed over the origins, a few hundred rows. Counts over the origins shown are these minus
    the rows of the few origins not shown (archipel/search_totals.py), rather than a sum of every
    origin's rows (~28,000 at 100,000 items). Rows of +n / -n like search_facet_totals."""

    __tablename__ = "search_value_totals"
    id: Mapped[int] = mapped_column(primary_key=True)
    facet: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(200))
    label: Mapped[str] = mapped_column(String(200), default="")
    count: Mapped[int] = mapped_column(Integer)
    __table_args__ = (Index("ix_search_value_totals_facet", "facet", "value", "label", "count"),)


class SearchCombination(Base):
    """How many indexed items have each combination of column facet values, per origin: a search
    with choices but no words (and no theme) counts every facet from these few thousand rows
    rather than from every item. Rows of +n / -n like search_facet_totals."""

    __tablename__ = "search_combinations"
    id: Mapped[int] = mapped_column(primary_key=True)
    island: Mapped[str] = mapped_column(String(255))
    local: Mapped[bool] = mapped_column(Boolean)
    via: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16))
    region: Mapped[str] = mapped_column(String(200))
    place: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(16))
    licence: Mapped[str] = mapped_column(String(32))
    audience: Mapped[str] = mapped_column(String(200))
    started_year: Mapped[int] = mapped_column(Integer)  # 0: none
    count: Mapped[int] = mapped_column(Integer)


class SearchPairTotal(Base):
    """How many indexed items have a value of one facet together with a value of another, per
    origin: a search with one facet chosen and no words (a region, a theme) counts every other facet
    from the rows of its value (at most origins × values of the other facets, ~25,000 rows for the
    most common value of 100,000 items), not from the matching items nor every combination. The
    island facet has none: it is the origin, and search_facet_totals counts per origin already.
    Rows of +n / -n like search_facet_totals (archipel/search_totals.py)."""

    __tablename__ = "search_pair_totals"
    id: Mapped[int] = mapped_column(primary_key=True)
    island: Mapped[str] = mapped_column(String(255))
    local: Mapped[bool] = mapped_column(Boolean)
    via: Mapped[str] = mapped_column(String(255))
    facet: Mapped[str] = mapped_column(String(16))  # the facet chosen…
    value: Mapped[str] = mapped_column(String(200))
    counted: Mapped[str] = mapped_column(String(16))  # …and a value of another facet, counted
    counted_value: Mapped[str] = mapped_column(String(200))
    count: Mapped[int] = mapped_column(Integer)
    # One chosen value's rows, grouped in order, read from the index alone.
    __table_args__ = (Index("ix_search_pair_totals_facet", "facet", "value", "counted", "counted_value",
                            "island", "local", "via", "count"),)


class MapCell(Base):
    """The map's clusters kept per zoom: for each cell of the world's grid at a zoom (0 to
    map_cells.KEPT_ZOOM) and each origin (island, local, re-sharing island), how many positioned
    items it holds and the sums of their positions (in 1e-7 degree from the world's south-west
    corner, integers: exact whatever the order of additions) and of their ids (the id of a cell
    holding one item). Rows of +n / -n like search_facet_totals, written with search_documents,
    compacted now and then (archipel/map_cells.py)."""

    __tablename__ = "map_cells"
    id: Mapped[int] = mapped_column(primary_key=True)
    zoom: Mapped[int] = mapped_column(Integer)
    x: Mapped[int] = mapped_column(Integer)
    y: Mapped[int] = mapped_column(Integer)
    island: Mapped[str] = mapped_column(String(255))
    local: Mapped[bool] = mapped_column(Boolean)
    via: Mapped[str] = mapped_column(String(255))
    count: Mapped[int] = mapped_column(Integer)
    latitude: Mapped[int] = mapped_column(BigInteger)
    longitude: Mapped[int] = mapped_column(BigInteger)
    ids: Mapped[int] = mapped_column(BigInteger)
    # A view's cells are a range of this index, read from it alone.
    __table_args__ = (Index("ix_map_cells_cell", "zoom", "x", "y", "island", "local", "via", "count",
                            "latitude", "longitude", "ids"),)


class LetterSubscriber(Base):
    """An address that asked for the island's letter (archipel/letter.py), with its choices. Never
    federated, shown, exported nor logged; unsubscribing deletes the row. `token` is the proof in
    the links of each letter (confirm, change the choices, unsubscribe): it must be written into
    every letter, so it is kept as it is (a copy of the database holds the addresses anyway)."""

    __tablename__ = "letter_subscribers"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    themes: Mapped[list] = mapped_column(JSON, default=list)    # theme keys; empty: every theme
    regions: Mapped[list] = mapped_column(JSON, default=list)   # region names; empty: see place
    place: Mapped[str] = mapped_column(String(200), default="")
    latitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    longitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    radius_km: Mapped[int] = mapped_column(Integer, default=0)
    language: Mapped[str] = mapped_column(String(16), default="")  # "": every language
    frequency: Mapped[str] = mapped_column(String(16), default="weekly")  # weekly | monthly
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The end of the window of the last letter written for this address: the next starts there.
    sent_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Unconfirmed addresses expire (archipel/letter.py: expire_unconfirmed).
    __table_args__ = (Index("ix_letter_subscribers_unconfirmed", "confirmed_at", "created_at"),)


class LetterIssue(Base):
    """One issue of the letter, one per ISO week (`period`, unique: two processes cannot both
    start it). Its subscribers' letters are written in batches (letter_deliveries); `composed_at`
    is set when none is left, so that a crash resumes the issue where it stopped."""

    __tablename__ = "letter_issues"
    id: Mapped[int] = mapped_column(primary_key=True)
    period: Mapped[str] = mapped_column(String(16), unique=True)  # 2026-W49
    since: Mapped[datetime] = mapped_column(UTCDateTime)  # the items published in (since, until]
    until: Mapped[datetime] = mapped_column(UTCDateTime)
    monthly: Mapped[bool] = mapped_column(Boolean, default=False)  # the first issue of its month
    editorial: Mapped[str] = mapped_column(Text, default="")
    article_uri: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    composed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class LetterDelivery(Base):
    """A subscriber's letter of an issue: written in the transaction that queues its mail (none
    when nothing matched), unique per (subscriber, issue), so a resumed issue neither skips nor
    repeats anyone."""

    __tablename__ = "letter_deliveries"
    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("letter_subscribers.id", ondelete="CASCADE"))
    issue_id: Mapped[int] = mapped_column(ForeignKey("letter_issues.id", ondelete="CASCADE"), index=True)
    mail_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # no FK: sent mail is purged
    items: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    __table_args__ = (UniqueConstraint("subscriber_id", "issue_id", name="uq_letter_deliveries_subscriber_issue"),)


class LetterEditorial(Base):
    """The animators' editorial for the next issue (one row, updated): an issue takes its text."""

    __tablename__ = "letter_editorial"
    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(200), default="")


# Tables the migrations create that the models cannot declare (one database's own kind of table).
UNDECLARED_TABLES = ("search_text", "search_vocabulary")


def declared(name: str) -> bool:
    """False for the undeclared tables and the tables SQLite makes for them (search_text_data…)."""
    return not any(name == table or name.startswith(table + "_") for table in UNDECLARED_TABLES)
