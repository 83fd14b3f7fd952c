"""ringmq.contrib.django: add "ringmq.contrib.django" to INSTALLED_APPS (see docs/django.md)."""
