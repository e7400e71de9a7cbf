"""aslgate.providers"""
