"""Server-to-server federation: ActivityPub documents, HTTP signatures, delivery."""
