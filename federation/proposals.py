"""Deciding on a proposal: accept (publish it, or apply the improvement as a new revision, with
credit to the proposer) or refuse with a reason; then tell the proposer, in the same transaction:
a direct Note from the island to a fediverse proposer, an e-mail (queued) to a form proposer who
left an address. That address is then erased from the proposal: the mail queue keeps it only
until the message is sent or given up (archipel/mail.py).
"""

from __future__ import annotations

import html

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from archipel import accounts, content, mail, proposals
from archipel.identity import activity_uri, object_uri
from archipel.storage.tables import LocalActor, Proposal, RemoteActor, StoredObject, utcnow
from federation import actions, documents
from federation.documents import ActorUrls
from federation.outbox import enqueue


async def accept(session: AsyncSession, base_url: str, proposal: Proposal, moderator: LocalActor, *,
                 island_name: str = "") -> StoredObject:
    """Publish what was proposed (as the moderators left it). A new item is published by the
    island actor, the proposer credited in its attribution; an improvement becomes a revision
    of the item, made by the moderator."""
    await proposals.claim(session, proposal)
    if proposal.kind == "edit":
        item = await content.get_local_object(session, proposal.target_uri)
        item = await actions.edit_item(session, base_url, item, editor=moderator,
                                       **proposals.improvement(item, proposal))
    else:
        island = await accounts.island_actor(session)
        item = await actions.publish_item(session, base_url, [island], **proposals.new_item_arguments(proposal))
    await proposals.mark_accepted(session, proposal, moderator, item.uri)
    title = proposal.fields.get("title", "")
    await _tell(session, base_url, proposal, island_name,
                subject=f"Votre proposition « {title} » est publiée",
                text=f"Merci ! Votre proposition « {title} » a été acceptée et publiée : {item.url or item.uri}",
                link=item.url or item.uri)
    return item


async def acknowledge(session: AsyncSession, base_url: str, proposal: Proposal, token: str,
                      sender: RemoteActor) -> None:
    """A fediverse proposer hears at once that the proposal arrived, with its private status link."""
    link = f"{base_url.rstrip('/')}/proposition/{token}"
    await _direct_note(session, base_url, proposal.proposer_actor_uri,
                       f"Merci ! Votre proposition « {proposal.fields.get('title', '')} » est arrivée : l'équipe "
                       f"de l'île va la lire. Vous pouvez la suivre ici : {link}", link, recipient=sender,
                       in_reply_to=proposal.post_uri)


async def refuse(session: AsyncSession, base_url: str, proposal: Proposal, moderator: LocalActor,
                 reason: str, *, island_name: str = "") -> None:
    await proposals.claim(session, proposal)
    await proposals.mark_refused(session, proposal, moderator, reason)
    title = proposal.fields.get("title", "")
    await _tell(session, base_url, proposal, island_name,
                subject=f"Votre proposition « {title} »",
                text=f"Merci pour votre proposition « {title} ». L'équipe de modération ne l'a pas retenue, "
                     f"pour cette raison : {proposal.reason}")


async def _tell(session: AsyncSession, base_url: str, proposal: Proposal, island_name: str, *, subject: str,
                text: str, link: str | None = None) -> None:
    if proposal.proposer_actor_uri:
        await _direct_note(session, base_url, proposal.proposer_actor_uri, text, link, in_reply_to=proposal.post_uri)
    if proposal.proposer_email:
        signature = f"\n\n-- \n{island_name or base_url}\n{base_url}\n"
        await mail.queue(session, to=proposal.proposer_email, subject=subject, body=text + signature)
        proposal.proposer_email = None  # the queued message holds it until sent; nothing else does


async def _direct_note(session: AsyncSession, base_url: str, recipient_uri: str, text: str,
                       link: str | None, *, recipient: RemoteActor | None = None,
                       in_reply_to: str | None = None) -> None:
    """A Note from the island to the proposer only (Mastodon shows it as a private mention),
    replying to the post that proposed, when there is one: addressed to its author and
    mentioning them, as a Mastodon reply with "mentioned people only" visibility, so it shows
    in that post's thread for them (the status link it carries stays private)."""
    if recipient is None:
        recipient = await session.scalar(select(RemoteActor).where(RemoteActor.uri == recipient_uri))
    if recipient is None:
        return  # the actor was forgotten (deleted) since: nobody to tell
    island = await accounts.island_actor(session)
    urls = ActorUrls(base_url, island.username)
    name = recipient.username or recipient.display_name or "proposer"
    handle = f"@{name}@{recipient.host}"
    body = html.escape(text)
    if link:
        escaped = html.escape(link)
        body = body.replace(escaped, f'<a href="{escaped}">{escaped}</a>')
    note_id = object_uri(base_url)
    note = {
        "id": note_id, "type": "Note", "attributedTo": urls.id,
        "content": f'<p><span class="h-card"><a href="{html.escape(recipient.url or recipient.uri)}" '
                   f'class="u-url mention">{html.escape(handle)}</a></span> {body}</p>',
        "to": [recipient.uri], "cc": [],
        "tag": [{"type": "Mention", "href": recipient.uri, "name": handle}],
    }
    if in_reply_to:
        note["inReplyTo"] = in_reply_to
    activity = documents.activity("Create", id=activity_uri(base_url), actor=urls.id, object=note,
                                  to=[recipient.uri], cc=[])
    note["published"] = activity["published"] = documents.rfc3339(utcnow())
    await enqueue(session, actor=island, activity=activity, inboxes=[recipient.inbox], public=False)
