"""close"""
