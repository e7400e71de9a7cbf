"""Test support code shared by several test modules (real components, no mocks)."""
