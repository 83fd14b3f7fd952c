"""manage.py ringmq_sync (filled in by the Django app)."""
