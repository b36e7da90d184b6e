"""The web interface (server-rendered pages) for the review procedure; see views.py."""
