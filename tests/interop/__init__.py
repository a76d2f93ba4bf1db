"""Interoperability tests against an independent ActivityPub peer (Fedify)."""
