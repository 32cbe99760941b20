"""Scheduled sweeps: plain "who is due now" jobs that APScheduler only ticks."""
