"""aslgate.store"""
