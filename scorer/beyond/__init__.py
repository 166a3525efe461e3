"""Numbers reported beside the official score, never in it: extra MIA attacks, bootstrap."""
