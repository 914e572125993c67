"""Architecture variants: each is one message path through the service components."""
