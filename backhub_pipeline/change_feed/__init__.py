"""The change feed: the GitHub App's webhook deliveries as compact change records (the domain, apart
from the command that serves it, ``backhub webhooks serve``): ``receiver`` verifies and records,
``change_log`` keeps the records."""
