"""aslgate.sandbox"""
