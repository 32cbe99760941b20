"""Peerbot: the domain logic."""
