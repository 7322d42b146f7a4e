"""Tests of actors.sources (a package, so that test module names never clash with other trees)."""
