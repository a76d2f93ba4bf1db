"""The HTTP surface: the aiohttp application, its routes and pages, and the command line."""
