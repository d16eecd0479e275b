"""datacenter"""
