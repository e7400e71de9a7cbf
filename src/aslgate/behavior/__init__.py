"""aslgate.behavior"""
