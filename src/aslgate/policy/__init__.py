"""aslgate.policy"""
