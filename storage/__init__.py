"""Storage: tables, queries and migrations; imports nothing of the rest of Peerbot."""
