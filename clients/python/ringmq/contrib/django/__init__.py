"""ringmq.contrib.django: add "ringmq.contrib.django" to INSTALLED_APPS."""
default_app_config = "ringmq.contrib.django.apps.RingmqConfig"   # Django < 3.2
