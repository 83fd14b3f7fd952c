"""ringmq: the Python side of ringmq (see README.md)."""
from .client import Client
from .errors import (BadRequest, Busy, ConnectionFailed, Error, Forbidden, MethodNotAllowed, NotFound,
                     RateLimited, TooLarge, Unauthorized, Unavailable)
from . import tokens, webhooks

__version__ = "0.1.0"
__all__ = ["Client", "Error", "BadRequest", "Unauthorized", "Forbidden", "NotFound", "MethodNotAllowed", "Busy",
           "TooLarge", "RateLimited", "Unavailable", "ConnectionFailed", "tokens", "webhooks"]
