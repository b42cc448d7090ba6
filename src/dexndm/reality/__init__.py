"""dexndm.reality"""
