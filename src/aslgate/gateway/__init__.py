"""aslgate.gateway"""
