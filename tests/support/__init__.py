"""Test doubles that are real servers: loopback HTTP sinks and a router process driver."""
