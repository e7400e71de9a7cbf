"""aslgate.scale"""
