"""All routes, in one table per concern."""

from aiohttp import web

from web.routes import account, activitypub, archipelago, authoring, federated, media, pages, reuse, wellknown
from web.routes import blocks, deliveries, desk, reports
from web.routes import members, my_account
from web.routes import conversations, notifications
from web.routes import moderation, proposals
from web.routes import follow, interaction, remote_interaction
from web.routes import profile, search
from web.routes import feeds
from web.routes import agenda
from web.routes import letter
from web.routes import map as map_routes
from web import search_guard


def setup_routes(app: web.Application) -> None:
    app.add_routes(wellknown.routes)
    app.add_routes(activitypub.routes)
    app.add_routes(pages.routes)
    account.setup(app)
    my_account.setup(app)
    app.add_routes(members.routes)
    app.add_routes(media.routes)
    app.on_startup.append(media.sweep_pending_files)  # after the database is set up (cleanup_ctx runs first)
    app.add_routes(reuse.routes)
    app.add_routes(federated.routes)
    app.add_routes(archipelago.routes)
    app.add_routes(authoring.routes)
    app.add_routes(blocks.routes)
    app.add_routes(deliveries.routes)
    app.add_routes(desk.routes)
    app.add_routes(reports.routes)
    app.add_routes(conversations.routes)
    app.add_routes(notifications.routes)
    proposals.setup(app)
    app.add_routes(moderation.routes)
    follow.setup(app)
    app.add_routes(interaction.routes)
    app.add_routes(remote_interaction.routes)
    app.add_routes(profile.routes)
    search_guard.setup(app)  # the brakes of every route that searches (search, map, agenda)
    app.add_routes(search.routes)
    app.add_routes(feeds.routes)
    letter.setup(app)
    app.add_routes(agenda.routes)
    app.add_routes(map_routes.routes)
    app.router.add_static("/static", authoring.STATIC_DIR)
