"""aslgate.cyber"""
