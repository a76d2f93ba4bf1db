"""A post that mentions the island becomes a proposal: `@ile@host` + text from any fediverse
account lands in the moderators' queue, with the sender as the proposer (told of the decision by a
direct Note, see federation/proposals.py).

Called from handlers.on_create once the object is trusted (the sender is its author). Replies to
our items are conversations, not proposals. Idempotent by activity id; limited per remote server.
The sender gets a direct Note at once with the private link to follow the proposal, as a reply
to their post (it shows in its thread).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import timedelta

from archipel import proposals
from archipel.accounts import island_actor
from archipel.errors import InvalidInput
from archipel.text import sanitize_html
from federation.as2 import as_list, has_type, host_of, id_of, ids_of, text_value
from federation import proposals as decisions
from federation.documents import ActorUrls

TITLE_WORDS = 12
TITLE_CHARS = 120
WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class Limits:
    per_host_per_hour: int = 20
    max_links: int = 10
    max_chars: int = 30_000


def mentions(obj: dict, actor_id: str) -> bool:
    addressed = ids_of(obj.get("to")) + ids_of(obj.get("cc"))
    tagged = [id_of(tag.get("href")) for tag in as_list(obj.get("tag"))
              if isinstance(tag, dict) and has_type(tag, "Mention")]
    return actor_id in addressed or actor_id in tagged


_BREAK = re.compile(r"<br\s*/?>|</p>|</li>|</h\d>|</blockquote>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")
_LEADING_MENTIONS = re.compile(r"^(?:\s*@[\w.-]+(?:@[\w.:-]+)?[\s,:]*)+")


def plain_paragraphs(content_html: str) -> list[str]:
    """The sanitised content as plain lines, the leading @mentions removed."""
    text = html.unescape(_TAG.sub("", _BREAK.sub("\n", sanitize_html(content_html))))
    lines = [" ".join(line.split()) for line in text.split("\n")]
    lines = [line for line in lines if line]
    if lines:
        lines[0] = _LEADING_MENTIONS.sub("", lines[0]).strip()
        if not lines[0]:
            lines.pop(0)
    return lines


def title_of(first_line: str) -> str:
    words = first_line.split()
    title = " ".join(words[:TITLE_WORDS])
    if len(title) > TITLE_CHARS:
        title = title[:TITLE_CHARS].rsplit(" ", 1)[0]
    return title + ("…" if title != first_line else "")


async def take_proposal(ctx, obj: dict, author: str) -> bool:
    """True when the post was a proposal (now in the queue, or already there): nothing else to do.
    Raises InvalidInput (recorded as ignored) for a flood or an unusable proposal."""
    island = await island_actor(ctx.session)
    island_id = ActorUrls(ctx.base_url, island.username).id
    if not has_type(obj, "Note") or not mentions(obj, island_id):
        return False
    if id_of(obj.get("inReplyTo")):
        # A reply is part of a conversation: Mastodon copies every earlier mention into replies,
        # so people answering a post that named the island would otherwise propose fiches.
        return False
    activity_id = id_of(ctx.activity) or obj["id"]
    if await proposals.find_by_activity(ctx.session, activity_id) is not None:
        return True
    limits = ctx.proposal_limits
    limit = limits.per_host_per_hour
    host_prefix = author.split("://", 1)[0] + "://" + host_of(author) + "/"
    if limit and await proposals.recent_from_host(ctx.session, host_prefix, WINDOW) >= limit:
        raise InvalidInput("Trop de propositions venues de %(host)s dans l'heure.", host=host_of(author))
    lines = plain_paragraphs(text_value(obj, "content"))
    if not lines:
        raise InvalidInput("Une mention sans texte n'est pas une proposition.")
    languages = obj.get("contentMap") if isinstance(obj.get("contentMap"), dict) else {}
    fields = {"title": title_of(lines[0]), "source": "\n\n".join(lines), "language": next(iter(languages), "fr"),
              "data": {}, "credit": True}
    if proposals.count_links(fields) > limits.max_links:
        raise InvalidInput("Trop de liens dans une proposition par mention.")
    if proposals.total_chars(fields) > limits.max_chars:
        raise InvalidInput("Cette proposition par mention est plus longue que ce que l'île accepte.")
    sender = await ctx.directory.get(author)
    proposal, token = await proposals.create(ctx.session, item_kind="fiche", fields=fields, origin="mention",
                                             proposer_name=sender.display_name or sender.username,
                                             proposer_actor_uri=author, activity_uri=activity_id)
    proposal.post_uri = obj["id"]  # the island's answers are replies to it
    await decisions.acknowledge(ctx.session, ctx.base_url, proposal, token, sender)
    return True
