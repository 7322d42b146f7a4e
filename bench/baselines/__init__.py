"""Baseline servers the router is compared against."""
