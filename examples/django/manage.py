#!/usr/bin/env python3
import os
import sys

if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    # the ringmq package from this repository when it is not installed
    sys.path.insert(1, os.path.join(here, "..", "..", "clients", "python"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exampleproject.settings")
    from django.core.management import execute_from_command_line
    execute_from_command_line(sys.argv)
