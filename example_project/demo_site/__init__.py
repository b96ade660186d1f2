"""A small but real Django site that shows django-maintenance-env at work."""
