"""DRF + simplejwt as their documentation sets them up, in a project laid out as Django's
startproject lays it out (settings, urls, wsgi); ``python -m drf_peer.seed`` migrates and adds
the users."""
