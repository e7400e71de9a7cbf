"""aslgate.report"""
